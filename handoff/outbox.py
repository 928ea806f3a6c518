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


MAX_CREATE_FAILURES = 5  # an entry whose creation fails this often (not Redis being down) is moved aside


async def drain_once(redis: Redis, service: TicketService, prefix: str) -> int:
    """Create every parked ticket; return how many were created (or found) and removed. One entry that
    cannot be created never blocks the others: it is retried on the next rounds and, after
    ``MAX_CREATE_FAILURES`` failures, moved to ``{prefix}outbox:rejected`` with the reason."""
    key = outbox_key(prefix)
    entries = await redis.hgetall(key)
    done = 0
    for conversation_id, raw in entries.items():
        try:
            request = validate_create(json.loads(raw))
        except (ValueError, RecursionError, HandoffError) as exc:
            detail = getattr(exc, "detail", str(exc)) if not isinstance(exc, RecursionError) else "nested too deeply"
            await _reject(redis, key, conversation_id, raw, detail)
            continue
        try:
            created, _is_new = await service.create(request)
        except (RedisError, ConnectionError, OSError):
            raise  # Redis is down: the whole round is retried later
        except Exception as exc:  # this entry's own problem: the others go on
            failures = int(await redis.hincrby(f"{key}:failures", conversation_id, 1))
            logger.exception("outbox entry of %s failed (%d of %d)", conversation_id, failures, MAX_CREATE_FAILURES)
            if failures >= MAX_CREATE_FAILURES:
                await _reject(redis, key, conversation_id, raw, f"{type(exc).__name__}: {exc}")
            continue
        await redis.hdel(key, conversation_id)
        await redis.hdel(f"{key}:failures", conversation_id)
        logger.info("outbox: conversation %s -> %s", conversation_id, created["reference"])
        done += 1
    return done


async def _reject(redis: Redis, key: str, conversation_id: str, raw: str, reason: str) -> None:
    logger.error("outbox entry of %s cannot be created, moved aside: %s", conversation_id, reason)
    await redis.hset(f"{key}:rejected", conversation_id, json.dumps({"request": raw, "reason": reason}))
    await redis.hdel(key, conversation_id)
    await redis.hdel(f"{key}:failures", conversation_id)


async def run_outbox_drain(redis: Redis, service: TicketService, prefix: str, interval: float) -> None:
    while True:
        try:
            await drain_once(redis, service, prefix)
        except (RedisError, ConnectionError, OSError) as exc:
            logger.warning("outbox drain: Redis unavailable (%s); retrying", type(exc).__name__)
        await asyncio.sleep(interval)
