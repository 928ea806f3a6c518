"""``create_app(settings)``: wires the store, the matrix, the Rasa notifier and the background tasks."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import ClientSession, ClientTimeout, web
from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import RedisError  # type: ignore[import-untyped, unused-ignore]

from handoff import keys as appkeys
from handoff.auth import AgentTokens
from handoff.console import setup_console
from handoff.errors import MatrixError
from handoff.matrix_source import MatrixSource
from bot.rasa_client import RasaNotifier
from handoff.incident_service import IncidentService
from handoff.incident_store import IncidentStore
from handoff.service import TicketService
from handoff.store import Store
from handoff.web import error_middleware, setup_routes

logger = logging.getLogger(__name__)

Clock = Callable[[], float]


def create_app(settings: appkeys.Settings, clock: Clock = time.time) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.client_max_size)
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock
    app[appkeys.MATRIX] = MatrixSource(settings.matrix_path)  # raises MatrixError on a bad file at start
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_background)
    setup_routes(app)
    setup_console(app)
    return app


def install_sighup_reload(app: web.Application) -> None:
    """SIGHUP reloads the escalation matrix (a bad file is logged and the last good one stays)."""

    async def sighup(app: web.Application) -> AsyncIterator[None]:
        source = app[appkeys.MATRIX]

        def reload() -> None:
            try:
                source.reload()
            except MatrixError as exc:
                logger.error("SIGHUP: keeping the last good escalation matrix: %s", exc.detail)

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, reload)
        yield
        loop.remove_signal_handler(signal.SIGHUP)

    app.cleanup_ctx.append(sighup)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    redis = Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        max_connections=200,
    )
    async with redis, ClientSession(timeout=ClientTimeout(total=settings.http_timeout)) as http:
        store = Store(redis, settings.key_prefix, events_maxlen=settings.events_maxlen,
                      replica_acks=settings.replica_acks, replica_ack_timeout_ms=settings.replica_ack_timeout_ms,
                      signals_maxlen=settings.signals_maxlen, retention_days=settings.retention_days,
                      business_hours=settings.business_hours)
        app[appkeys.STORE] = store
        app[appkeys.AGENTS] = AgentTokens(store)
        app[appkeys.HTTP] = http
        notifier = RasaNotifier(http, settings.rasa_url, settings.rasa_token)
        app[appkeys.SERVICE] = TicketService(
            store, app[appkeys.MATRIX], settings, app[appkeys.CLOCK], notifier
        )
        app[appkeys.INCIDENTS] = IncidentService(IncidentStore(redis, settings.key_prefix), store, app[appkeys.MATRIX],
                                                 app[appkeys.CLOCK], notifier)
        retry: asyncio.Task[None] | None = None
        if settings.bootstrap_tokens and not await _register_bootstrap_tokens(app):
            retry = asyncio.create_task(_retry_bootstrap_tokens(app))  # Redis not up yet: keep trying
        yield
        if retry is not None:
            await stop_tasks([retry])


async def _register_bootstrap_tokens(app: web.Application) -> bool:
    store, settings = app[appkeys.STORE], app[appkeys.SETTINGS]
    try:
        for bootstrap in settings.bootstrap_tokens:
            await store.register_token(bootstrap.token, bootstrap.name, bootstrap.role, app[appkeys.CLOCK]())
    except (RedisError, ConnectionError, OSError) as exc:
        logger.warning("could not register bootstrap tokens yet: %s", type(exc).__name__)
        return False
    logger.info("registered %d bootstrap agent token(s)", len(settings.bootstrap_tokens))
    return True


async def _retry_bootstrap_tokens(app: web.Application) -> None:
    while not await _register_bootstrap_tokens(app):
        await asyncio.sleep(1.0)


async def _background(app: web.Application) -> AsyncIterator[None]:
    from handoff.incident_service import run_incident_detector, run_incident_notifier  # noqa: PLC0415
    from handoff.watcher import run_matrix_poller, run_retention, run_sla_watcher  # noqa: PLC0415
    from handoff.webhooks import run_webhook_dispatcher  # noqa: PLC0415

    settings = app[appkeys.SETTINGS]
    tasks: list[asyncio.Task[None]] = []
    if settings.sla_interval > 0:
        tasks.append(asyncio.create_task(run_sla_watcher(app[appkeys.SERVICE], settings.sla_interval)))
    if settings.matrix_poll_interval > 0:
        tasks.append(asyncio.create_task(run_matrix_poller(app[appkeys.MATRIX], settings.matrix_poll_interval)))
    if settings.retention_interval > 0:
        tasks.append(asyncio.create_task(run_retention(app[appkeys.STORE], app[appkeys.CLOCK],
                                                       settings.retention_interval, settings.business_hours.timezone,
                                                       settings.instance_id)))
    if settings.webhooks:
        tasks.append(
            asyncio.create_task(run_webhook_dispatcher(app[appkeys.STORE], app[appkeys.HTTP], settings))
        )
    if settings.incident_detection:
        store = app[appkeys.STORE]
        tasks.append(asyncio.create_task(run_incident_detector(
            app[appkeys.INCIDENTS], [store.events_key, store.signals_key], settings.instance_id)))
    if settings.incident_notify_interval > 0:
        tasks.append(asyncio.create_task(run_incident_notifier(app[appkeys.INCIDENTS],
                                                               settings.incident_notify_interval)))
    yield
    await stop_tasks(tasks)


async def stop_tasks(tasks: list[asyncio.Task[None]], timeout: float = 10.0) -> None:
    """Cancel background loops and wait for them. A cancellation can be swallowed by a library call it
    interrupts (Python 3.10's asyncio.wait_for, async-timeout), so cancel again until they are done."""
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.2)
    if pending:
        logger.warning("%d background task(s) did not stop within %.0f s", len(pending), timeout)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.warning("background task ended with %s", type(task.exception()).__name__)
