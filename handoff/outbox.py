"""Drain the outbox: ticket requests the action server parked in Redis while this service was down.

Each entry is created through the same idempotent use case as `POST /api/v1/tickets` (a retry by the bot
for the same conversation returns the same ticket), then removed. An entry that fails validation is moved
to `{prefix}outbox:rejected` with the reason, never dropped. Safe with several instances: HDEL after a
successful create; a concurrent instance creating the same request gets the same ticket.

The customer is told the reference in their chat even when the bot's own retry is gone (Rasa keeps its
reminders in memory only, so a restart loses them): every ticket the drain creates is noted in
`{prefix}outbox:notify` in the same transaction that removes the entry, and the drain asks Rasa to run the
bot's retry (`EXTERNAL_retry_ticket`, which finds the ticket by conversation and tells its reference) until
Rasa accepts it. A retry that arrives after the customer already has the reference says nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import RedisError  # type: ignore[import-untyped, unused-ignore]

from bot.contract import OUTBOX_KEY
from handoff.errors import HandoffError
from handoff.notify import RasaNotifier
from handoff.service import TicketService
from handoff.validation import strict_json_loads, validate_create

logger = logging.getLogger(__name__)


def outbox_key(prefix: str) -> str:
    return f"{prefix}{OUTBOX_KEY}"


MAX_CREATE_FAILURES = 5  # an entry whose creation fails this often (not Redis being down) is moved aside
RETRY_INTENT = "EXTERNAL_retry_ticket"  # the bot's retry: tells the customer the reference of their ticket
NOTIFY_FOR_SECONDS = 24 * 3600.0  # how long Rasa is asked to tell a parked customer their reference


async def drain_once(redis: Redis, service: TicketService, prefix: str, notifier: RasaNotifier | None = None) -> int:
    """Create every parked ticket; return how many were created (or found) and removed. One entry that
    cannot be created never blocks the others: it is retried on the next rounds and, after
    ``MAX_CREATE_FAILURES`` failures, moved to ``{prefix}outbox:rejected`` with the reason."""
    key = outbox_key(prefix)
    entries = await redis.hgetall(key)
    done = 0
    for conversation_id, raw in entries.items():
        try:
            request = validate_create(strict_json_loads(raw))
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
        async with redis.pipeline(transaction=True) as pipe:  # removed and noted for the customer together
            pipe.hdel(key, conversation_id)
            pipe.hdel(f"{key}:failures", conversation_id)
            if notifier is not None:
                pipe.hset(f"{key}:notify", conversation_id,
                          json.dumps({"reference": created["reference"], "since": time.time()}))
            await pipe.execute()
        logger.info("outbox: conversation %s -> %s", conversation_id, created["reference"])
        done += 1
    if notifier is not None:
        await notify_customers(redis, notifier, key)
    return done


async def notify_customers(redis: Redis, notifier: RasaNotifier, key: str) -> int:
    """Ask Rasa to tell each parked customer their ticket's reference; an entry stays until Rasa accepted
    it (or, after NOTIFY_FOR_SECONDS, is given up with a log line: the ticket itself exists either way).
    Returns how many were accepted."""
    told = 0
    for conversation_id, raw in (await redis.hgetall(f"{key}:notify")).items():
        try:
            entry = json.loads(raw)
            since, reference = float(entry["since"]), str(entry["reference"])
        except (ValueError, KeyError, TypeError):
            since, reference = 0.0, "?"
        if await notifier.trigger(conversation_id, RETRY_INTENT, {}):
            await redis.hdel(f"{key}:notify", conversation_id)
            told += 1
        elif time.time() - since > NOTIFY_FOR_SECONDS:
            logger.error("gave up telling conversation %s its reference %s", conversation_id, reference)
            await redis.hdel(f"{key}:notify", conversation_id)
    return told


async def _reject(redis: Redis, key: str, conversation_id: str, raw: str, reason: str) -> None:
    logger.error("outbox entry of %s cannot be created, moved aside: %s", conversation_id, reason)
    await redis.hset(f"{key}:rejected", conversation_id, json.dumps({"request": raw, "reason": reason}))
    await redis.hdel(key, conversation_id)
    await redis.hdel(f"{key}:failures", conversation_id)


async def run_outbox_drain(redis: Redis, service: TicketService, prefix: str, interval: float,
                           notifier: RasaNotifier | None = None) -> None:
    while True:
        try:
            await drain_once(redis, service, prefix, notifier)
        except (RedisError, ConnectionError, OSError) as exc:
            logger.warning("outbox drain: Redis unavailable (%s); retrying", type(exc).__name__)
        await asyncio.sleep(interval)
