"""All Redis code of the handoff service. Every key is built here, under a configurable prefix."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from redis.asyncio import Redis  # type: ignore[import-untyped]


class Store:
    def __init__(self, redis: Redis, prefix: str = "fd:", *, events_maxlen: int = 100_000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.events_maxlen = events_maxlen

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- agent tokens (stored as sha256 hex -> JSON {name, role, created_at}) -------------------------

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def register_token(self, token: str, name: str, role: str, now: float) -> None:
        record = json.dumps({"name": name, "role": role, "created_at": now})
        await self.redis.hset(self._k("tokens"), token_hash(token), record)

    async def agent_for_token(self, token: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self._k("tokens"), token_hash(token))
        if raw is None:
            return None
        agent: dict[str, Any] = json.loads(raw)
        return agent


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
