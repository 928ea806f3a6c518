"""HTTP layer: routes and the one error middleware that maps the HandoffError family to status codes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError  # type: ignore[import-untyped]
from redis.exceptions import TimeoutError as RedisTimeoutError

from handoff import keys as appkeys
from handoff.errors import HandoffError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HandoffError as exc:
        return _error(exc.status, exc.code, exc.detail)
    except (RedisConnectionError, RedisTimeoutError, ConnectionError) as exc:
        logger.warning("redis unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        return _error(503, "unavailable", "the ticket store is not reachable, try again shortly")
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "too_large", f"request body exceeds {request.app[appkeys.SETTINGS].client_max_size} bytes")
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise


async def health(request: web.Request) -> web.Response:
    try:
        ok = await request.app[appkeys.STORE].ping()
    except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError):
        ok = False
    if not ok:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", health)
