"""Agent token lookups with a short in-process cache (tokens live hashed in Redis; a revoked token
stops working on every instance within ``ttl`` seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from handoff.store import Store


class AgentTokens:
    def __init__(self, store: Store, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    async def lookup(self, token: str) -> dict[str, Any] | None:
        now = self.clock()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        agent = await self.store.agent_for_token(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now + self.ttl, agent)
        return agent
