"""``python -m handoff``: run the service; ``python -m handoff token create --name N --role agent|lead``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiohttp import web

from handoff.errors import HandoffError
from handoff.settings import Settings

logger = logging.getLogger("handoff")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff", description="frontdoor handoff service")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP service (default)")
    token = sub.add_parser("token", help="manage agent tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a new agent token and print it")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=("agent", "lead"), default="agent")
    args = parser.parse_args(argv)

    level = os.environ.get("HANDOFF_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        print(f"handoff: HANDOFF_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except HandoffError as exc:
        print(f"handoff: {exc.detail}", file=sys.stderr)
        return 2
    if args.command == "token":
        return asyncio.run(_create_token(settings, args.name, args.role))
    return _serve(settings)


def _serve(settings: Settings) -> int:
    from handoff.app import create_app, install_sighup_reload  # noqa: PLC0415

    try:
        app = create_app(settings)
        install_sighup_reload(app)
    except HandoffError as exc:
        print(f"handoff: {exc.detail}", file=sys.stderr)
        return 2
    _use_uvloop()
    logger.info("handoff service listening on %s:%s", settings.host, settings.port)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


def _use_uvloop() -> None:
    """uvloop (installed with Rasa's dependencies) makes the event loop noticeably cheaper; optional,
    and HANDOFF_UVLOOP=0 turns it off."""
    if os.environ.get("HANDOFF_UVLOOP", "1") == "0":
        return
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _create_token(settings: Settings, name: str, role: str) -> int:
    import secrets  # noqa: PLC0415
    import time  # noqa: PLC0415

    from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    from handoff.store import Store  # noqa: PLC0415

    token = secrets.token_urlsafe(32)
    async with Redis.from_url(settings.redis_url, decode_responses=True) as redis:
        await Store(redis, settings.key_prefix).register_token(token, name, role, time.time())
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
