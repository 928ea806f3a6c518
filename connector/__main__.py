"""``python -m connector``: run the RT connector (``frontdoor up`` starts it when RT_URL is set).

At start the mapping file is checked against the escalation matrix (exit 2 with the file and the queue when
it does not fit) and, when RT answers, against RT (the same); while RT is unreachable the connector serves
its health check and waits, so RT being down never blocks the rest of the stack.
``python -m connector check`` only checks (exit 0 when the file fits the matrix and RT)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from contextlib import suppress

from aiohttp import ClientSession, ClientTimeout, web
from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]

from bot.taxonomy import TaxonomyError, load_taxonomy
from connector.errors import ConfigError, Transient
from connector.handoff_api import HandoffAPI
from connector.mapping import QueueMap, load_queue_map
from connector.rt import RTClient
from connector.settings import Settings
from connector.state import State
from connector.sync import Connector

logger = logging.getLogger("connector")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector", description="frontdoor <-> Request Tracker 5")
    parser.add_argument("command", nargs="?", choices=("run", "check"), default="run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("RT_CONNECTOR_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(os.environ)
        qmap = load_queue_map(settings.queue_map, load_taxonomy(settings.matrix_path).queues)
    except (ConfigError, TaxonomyError) as exc:
        print(f"connector: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(check(settings, qmap) if args.command == "check" else run(settings, qmap))
    except ConfigError as exc:
        print(f"connector: {exc}", file=sys.stderr)
        return 2


async def check(settings: Settings, qmap: QueueMap) -> int:
    async with ClientSession(timeout=ClientTimeout(total=settings.timeout)) as http:
        connector = Connector(settings, None, RTClient(http, settings.rt_url, settings.rt_token), None, qmap)  # type: ignore[arg-type]
        try:
            await connector.check_rt()
        except Transient as exc:
            print(f"connector: {exc}", file=sys.stderr)
            return 1
    print(f"{qmap.path} fits the escalation matrix and RT at {settings.rt_url}")
    return 0


async def run(settings: Settings, qmap: QueueMap) -> int:
    redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=2.0)
    async with redis, ClientSession(timeout=ClientTimeout(total=settings.timeout)) as http:
        state = State(redis, settings.key_prefix, settings.events_key)
        connector = Connector(settings, state, RTClient(http, settings.rt_url, settings.rt_token),
                              HandoffAPI(http, settings.handoff_url, settings.handoff_token), qmap)
        try:
            await connector.check_rt()  # a mapping that does not fit RT stops the start here, with its reason
        except Transient as exc:
            logger.warning("RT is not reachable (%s): serving, and checking again with backoff", exc)
        while True:
            try:
                await state.ensure_group()  # before /health answers: tickets created after the start are seen
                break
            except Exception as exc:  # Redis not up yet
                logger.warning("Redis not reachable yet: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
        runner = await _serve_health(connector, settings)
        tasks = [asyncio.create_task(coro) for coro in (connector.wait_for_rt(), connector.run_outbound(),
                                                        connector.run_retries(), connector.run_inbound())]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stopper = asyncio.create_task(stop.wait())
        failure: BaseException | None = None
        pending = {*tasks, stopper}
        while failure is None and not stop.is_set():  # until a signal, or a loop fails (a bad RT configuration)
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            failure = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        for task in [*tasks, stopper]:
            task.cancel()
        for task in [*tasks, stopper]:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await runner.cleanup()
        if failure is not None:
            raise failure
    return 0


async def _serve_health(connector: Connector, settings: Settings) -> web.AppRunner:
    async def health(request: web.Request) -> web.Response:
        try:
            return web.json_response(await connector.health())
        except Exception as exc:  # Redis unavailable
            return web.json_response({"status": "unavailable", "detail": type(exc).__name__}, status=503)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    logger.info("health check on http://%s:%d/health", settings.host, settings.port)
    return runner


if __name__ == "__main__":
    sys.exit(main())
