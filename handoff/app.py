"""``create_app(settings)``: wires the store and the routes."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from redis.asyncio import Redis  # type: ignore[import-untyped]

from handoff import keys as appkeys
from handoff.settings import Settings
from handoff.store import Store
from handoff.web import error_middleware, setup_routes

logger = logging.getLogger(__name__)

Clock = Callable[[], float]


def create_app(settings: Settings, clock: Clock = time.time) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.client_max_size)
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock
    app.cleanup_ctx.append(_resources)
    setup_routes(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    redis = Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
    )
    async with redis:
        app[appkeys.STORE] = Store(redis, settings.key_prefix, events_maxlen=settings.events_maxlen)
        yield
