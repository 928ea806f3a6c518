"""The outbox: ticket requests the action server parks in Redis while the handoff service cannot take
them, and the loop that sends them once it can. Only the action server reads or writes these keys
(``P`` = ``ACTIONS_KEY_PREFIX``); the handoff service knows nothing of them and creates a parked ticket
through its public API like any other.

  P outbox            hash: conversation id -> CreateTicketRequest JSON, waiting to be sent
  P outbox:failures   hash: conversation id -> attempts that failed for this entry's own reason
  P outbox:rejected   hash: conversation id -> {"request", "reason"}: refused, kept for a person to read
  P outbox:notify     hash: conversation id -> {"reference", "since"}: the customer still has to be told

A request is sent through the same idempotent ``POST /api/v1/tickets`` as the bot's own call (a retry for
the same conversation returns the same ticket), then removed, only if the entry is still the one that was
sent (a newer request parked meanwhile waits for the next round). Nothing is dropped: while the service
cannot be reached (no answer, or 503) the round stops and everything waits; an entry the service refuses
(4xx) or that fails for its own reason ``MAX_CREATE_FAILURES`` times (a 5xx for it alone) is moved to
``outbox:rejected`` with the reason. Safe with several action servers: each creation is idempotent.

The customer is told the reference in their chat even when the bot's own retry is gone (Rasa keeps its
reminders in memory only, so a restart loses them): every ticket the drain creates is noted in
``outbox:notify`` in the same script that removes the entry, and the drain asks Rasa to run the bot's
retry (``EXTERNAL_retry_ticket``, which finds the ticket by conversation and tells its reference) until
Rasa accepts it. A retry that arrives after the customer already has the reference says nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import RedisError  # type: ignore[import-untyped, unused-ignore]

from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable
from actions.settings import ActionSettings
from bot.contract import CreateTicketRequest
from bot.rasa_client import RasaNotifier

logger = logging.getLogger(__name__)

MAX_CREATE_FAILURES = 5  # an entry whose creation fails this often for its own reason is moved aside
RETRY_INTENT = "EXTERNAL_retry_ticket"  # the bot's retry: tells the customer the reference of their ticket
NOTIFY_FOR_SECONDS = 24 * 3600.0  # how long Rasa is asked to tell a parked customer their reference
DRAIN_INTERVAL = 2.0  # seconds between rounds

# HDEL the entry only if it is still the request that was sent; note the customer to be told, together
_REMOVE_SENT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
return 1
"""


@dataclass(frozen=True)
class OutboxKeys:
    """The only place that knows the outbox's key layout."""

    prefix: str

    @property
    def entries(self) -> str:
        return f"{self.prefix}outbox"

    @property
    def failures(self) -> str:
        return f"{self.prefix}outbox:failures"

    @property
    def rejected(self) -> str:
        return f"{self.prefix}outbox:rejected"

    @property
    def notify(self) -> str:
        return f"{self.prefix}outbox:notify"


class Outbox:
    """Parks a ticket request (``park``) and sends what is parked (``drain_once``). ``park`` and ``clear``
    open a short-lived connection each: they run in an action, rarely, and must not fail the action when
    Redis is down too (the tracker's slots still hold every detail and the bot's retry reminder stands)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.keys = OutboxKeys(prefix)

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> Outbox:
        return cls(settings.redis_url, settings.key_prefix)

    async def _command(self, name: str, *args: str) -> bool:
        if not self.redis_url:
            return False
        try:
            async with Redis.from_url(self.redis_url, socket_timeout=2) as client:
                await client.execute_command(name, self.keys.entries, *args)
            return True
        except Exception:  # Redis down as well: the slots in the tracker still hold every detail
            logger.exception("outbox %s failed for %s", name, args[0] if args else "")
            return False

    async def park(self, request: CreateTicketRequest) -> bool:
        return await self._command("HSET", request["conversation_id"], json.dumps(request))

    async def clear(self, conversation_id: str) -> None:
        await self._command("HDEL", conversation_id)


async def drain_once(redis: Redis, client: HandoffClient, keys: OutboxKeys,
                     notifier: RasaNotifier | None = None) -> int:
    """Send every parked request; return how many tickets were created (or found) and removed. One entry
    that cannot be created never blocks the others."""
    done = 0
    for conversation_id, raw in (await redis.hgetall(keys.entries)).items():
        try:
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            await _reject(redis, keys, conversation_id, raw, f"not a ticket request: {exc}"[:300])
            continue
        try:
            created = await client.create_ticket(request)  # type: ignore[arg-type]  # the service validates it
        except HandoffUnavailable as exc:
            if exc.status is None or exc.status == 503:
                logger.info("outbox: the handoff service cannot take tickets yet (%s)", exc)
                break  # not this entry's fault: every entry waits for the next round
            await _failed(redis, keys, conversation_id, raw, f"HTTP {exc.status} from the handoff service")
            continue
        except HandoffRejected as exc:
            if exc.status == 429:
                continue  # rate limited: sent again in a later round
            await _reject(redis, keys, conversation_id, raw, f"{exc.status} {exc.error}: {exc.detail}")
            continue
        note = json.dumps({"reference": created["reference"], "since": time.time()}) if notifier else ""
        await redis.eval(_REMOVE_SENT, 3, keys.entries, keys.failures, keys.notify, conversation_id, raw, note)
        logger.info("outbox: conversation %s -> %s", conversation_id, created["reference"])
        done += 1
    if notifier is not None:
        await notify_customers(redis, notifier, keys)
    return done


async def notify_customers(redis: Redis, notifier: RasaNotifier, keys: OutboxKeys) -> int:
    """Ask Rasa to tell each parked customer their ticket's reference; an entry stays until Rasa accepted
    it (or, after NOTIFY_FOR_SECONDS, is given up with a log line: the ticket itself exists either way).
    Returns how many were accepted."""
    told = 0
    for conversation_id, raw in (await redis.hgetall(keys.notify)).items():
        try:
            entry = json.loads(raw)
            since, reference = float(entry["since"]), str(entry["reference"])
        except (ValueError, KeyError, TypeError):
            since, reference = 0.0, "?"
        if await notifier.trigger(conversation_id, RETRY_INTENT, {}):
            await redis.hdel(keys.notify, conversation_id)
            told += 1
        elif time.time() - since > NOTIFY_FOR_SECONDS:
            logger.error("gave up telling conversation %s its reference %s", conversation_id, reference)
            await redis.hdel(keys.notify, conversation_id)
    return told


async def _failed(redis: Redis, keys: OutboxKeys, conversation_id: str, raw: str, reason: str) -> None:
    failures = int(await redis.hincrby(keys.failures, conversation_id, 1))
    logger.error("outbox entry of %s failed (%d of %d): %s", conversation_id, failures, MAX_CREATE_FAILURES, reason)
    if failures >= MAX_CREATE_FAILURES:
        await _reject(redis, keys, conversation_id, raw, reason)


async def _reject(redis: Redis, keys: OutboxKeys, conversation_id: str, raw: str, reason: str) -> None:
    logger.error("outbox entry of %s cannot be created, moved aside: %s", conversation_id, reason)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.rejected, conversation_id, json.dumps({"request": raw, "reason": reason}))
        pipe.hdel(keys.entries, conversation_id)
        pipe.hdel(keys.failures, conversation_id)
        await pipe.execute()


async def run_outbox_drain(settings: ActionSettings, interval: float = DRAIN_INTERVAL) -> None:
    """The action server's background loop (started in ``actions/__main__.py`` when Redis is configured)."""
    keys = OutboxKeys(settings.key_prefix)
    client = HandoffClient.from_settings(settings)
    async with Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5) as redis, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        notifier = RasaNotifier(http, settings.rasa_url, settings.rasa_token or None)
        while True:
            try:
                if await redis.exists(keys.entries, keys.notify):
                    await drain_once(redis, client, keys, notifier)
            except (RedisError, ConnectionError, OSError) as exc:
                logger.warning("outbox drain: Redis unavailable (%s); retrying", type(exc).__name__)
            await asyncio.sleep(interval)
