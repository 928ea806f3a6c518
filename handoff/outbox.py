"""Drain the outbox: ticket requests the action server parked in Redis while this service was down.

Each entry is created through the same idempotent use case as `POST /api/v1/tickets` (a retry by the bot
for the same conversation returns the same ticket), then removed. An entry that fails validation is moved
to `{prefix}outbox:rejected` with the reason, never dropped. Safe with several instances: HDEL after a
successful create; a concurrent instance creating the same request gets the same ticket.
"""

from __future__ import annotations

import asyncio
import json
import logging

from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import RedisError  # type: ignore[import-untyped, unused-ignore]

from bot.contract import OUTBOX_KEY
from handoff.errors import HandoffError
from handoff.service import TicketService
from handoff.validation import validate_create

logger = logging.getLogger(__name__)


def outbox_key(prefix: str) -> str:
    return f"{prefix}{OUTBOX_KEY}"


async def drain_once(redis: Redis, service: TicketService, prefix: str) -> int:
    """Create every parked ticket; return how many were created (or found) and removed."""
    key = outbox_key(prefix)
    entries = await redis.hgetall(key)
    done = 0
    for conversation_id, raw in entries.items():
        try:
            request = validate_create(json.loads(raw))
        except (ValueError, HandoffError) as exc:
            detail = getattr(exc, "detail", str(exc))
            logger.error("outbox entry of %s is invalid, moved aside: %s", conversation_id, detail)
            await redis.hset(f"{key}:rejected", conversation_id, json.dumps({"request": raw, "reason": detail}))
            await redis.hdel(key, conversation_id)
            continue
        created, _is_new = await service.create(request)
        await redis.hdel(key, conversation_id)
        logger.info("outbox: conversation %s -> %s", conversation_id, created["reference"])
        done += 1
    return done


async def run_outbox_drain(redis: Redis, service: TicketService, prefix: str, interval: float) -> None:
    while True:
        try:
            await drain_once(redis, service, prefix)
        except (RedisError, ConnectionError, OSError) as exc:
            logger.warning("outbox drain: Redis unavailable (%s); retrying", type(exc).__name__)
        await asyncio.sleep(interval)
