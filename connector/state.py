"""All Redis keys of the connector, under its own prefix (``RT_CONNECTOR_KEY_PREFIX``, default ``fd-rt:``).
It reads the handoff service's event stream as the consumer group ``rt-connector`` and writes nothing of the
handoff service's keys but its group's acknowledgements.

Layout (``C`` = prefix):
  C ref2rt            hash our reference -> RT ticket id;   C rt2ref  hash RT ticket id -> our reference
  C requestor         hash our reference -> the requestor's e-mail (their mails to RT are not agent replies)
  C seen              hash our reference -> timestamp of the last customer message mirrored as a comment
  C parked            zset reference -> when its parked entries are retried next
  C parked:{ref}      list of the reference's parked stream entries (JSON), oldest first: their order is kept
  C dead              list of entries set aside (JSON with the reason), newest last, at most 10,000
  C cursor            the highest RT transaction id handled;  C done  zset of handled transaction ids (recent)
  C lock:{ref}        held while a reference's RT ticket is looked up and created
  C stats             hash of counters
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]

from connector.errors import Busy

GROUP = "rt-connector"
DEAD_LIMIT = 10_000
DONE_WINDOW = 1000  # transaction ids below the cursor whose "done" marks are kept

# a stream entry joins its reference's parked entries (behind them) and is acknowledged, in one step
_PARK_LUA = """
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[1])
if ARGV[5] ~= '' then redis.call('XACK', KEYS[3], ARGV[4], ARGV[5]) end
return 1
"""

# the head of a reference's parked entries is done: drop it, and the reference when nothing is left
_POP_LUA = """
redis.call('LPOP', KEYS[2])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return redis.call('LLEN', KEYS[2])
"""


class State:
    def __init__(self, redis: Redis, prefix: str, events_key: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.events_key = events_key
        self._park = redis.register_script(_PARK_LUA)
        self._pop = redis.register_script(_POP_LUA)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- the event stream -------------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        """The consumer group, from now on (tickets created before the connector's first start are not
        mirrored)."""
        try:
            await self.redis.xgroup_create(self.events_key, GROUP, id="$", mkstream=True)
        except Exception as exc:  # BUSYGROUP: it exists, and resumes where it stopped
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """This consumer's entries not yet acknowledged (a restart after kill -9 resumes them at once), then
        those another consumer left for a minute, then new ones."""
        own = await self.redis.xreadgroup(GROUP, consumer, {self.events_key: "0"}, count=count)
        entries = [e for _s, items in own or [] for e in items if e[1]]
        if not entries:
            claimed = await self.redis.xautoclaim(self.events_key, GROUP, consumer, min_idle_time=60_000,
                                                  start_id="0-0", count=count)
            entries = [e for e in (claimed[1] if claimed and len(claimed) > 1 else []) if e[1]]
        if not entries:
            new = await self.redis.xreadgroup(GROUP, consumer, {self.events_key: ">"}, count=count, block=block_ms)
            entries = [e for _s, items in new or [] for e in items if e[1]]
        return [(str(i), dict(f)) for i, f in entries]

    async def ack(self, entry_id: str) -> None:
        await self.redis.xack(self.events_key, GROUP, entry_id)

    async def lag(self) -> int:
        """Entries of the stream the group has not acknowledged yet (read or not)."""
        try:
            groups = await self.redis.xinfo_groups(self.events_key)
        except Exception:  # no stream yet
            return 0
        for group in groups:
            if group.get("name") == GROUP:
                return int(group.get("pending") or 0) + int(group.get("lag") or 0)
        return 0

    # -- parked and dead entries ----------------------------------------------------------------------

    async def park(self, ref: str, entry: dict[str, Any], due: float, entry_id: str = "") -> None:
        """Put ``entry`` behind the reference's parked entries (retried from ``due`` on, unless the reference
        is already scheduled) and acknowledge the stream entry ``entry_id``, atomically."""
        await self._park(keys=[self._k("parked"), self._k("parked", ref), self.events_key],
                         args=[ref, json.dumps(entry), repr(due), GROUP, entry_id])

    async def is_parked(self, ref: str) -> bool:
        return await self.redis.zscore(self._k("parked"), ref) is not None

    async def due_parked(self, now: float, count: int) -> list[str]:
        return [str(r) for r in await self.redis.zrangebyscore(self._k("parked"), "-inf", now, start=0, num=count)]

    async def parked_head(self, ref: str) -> dict[str, Any] | None:
        raw = await self.redis.lindex(self._k("parked", ref), 0)
        return cast(dict[str, Any], json.loads(raw)) if raw else None

    async def pop_parked(self, ref: str) -> int:
        """The head is done; returns how many are left."""
        return int(await self._pop(keys=[self._k("parked"), self._k("parked", ref)], args=[ref]))

    async def reschedule(self, ref: str, due: float) -> None:
        await self.redis.zadd(self._k("parked"), {ref: due}, xx=True)

    async def parked_count(self) -> int:
        return int(await self.redis.zcard(self._k("parked")))

    async def set_aside(self, entry: dict[str, Any], reason: str, *, entry_id: str = "", parked_ref: str = "") -> None:
        """An entry that cannot succeed goes to the dead list with the reason; the stream entry is acknowledged
        (or the reference's parked head dropped)."""
        record = json.dumps({**entry, "reason": reason})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._k("dead"), record)
            pipe.ltrim(self._k("dead"), -DEAD_LIMIT, -1)
            pipe.hincrby(self._k("stats"), "set_aside", 1)
            if entry_id:
                pipe.xack(self.events_key, GROUP, entry_id)
            await pipe.execute()
        if parked_ref:
            await self.pop_parked(parked_ref)

    async def dead(self, count: int = 100) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in await self.redis.lrange(self._k("dead"), -count, -1)]

    # -- the mapping ---------------------------------------------------------------------------------

    async def rt_id(self, ref: str) -> int | None:
        raw = await self.redis.hget(self._k("ref2rt"), ref)
        return int(raw) if raw else None

    async def ref_for(self, rt_id: int) -> str | None:
        raw = await self.redis.hget(self._k("rt2ref"), str(rt_id))
        return str(raw) if raw else None

    async def remember(self, ref: str, rt_id: int, requestor: str, found: bool) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._k("ref2rt"), ref, str(rt_id))
            pipe.hset(self._k("rt2ref"), str(rt_id), ref)
            if requestor:
                pipe.hset(self._k("requestor"), ref, requestor)
            pipe.hincrby(self._k("stats"), "found_in_rt" if found else "created_in_rt", 1)
            await pipe.execute()

    async def requestor(self, ref: str) -> str:
        return str(await self.redis.hget(self._k("requestor"), ref) or "")

    async def mirrored(self) -> int:
        return int(await self.redis.hlen(self._k("ref2rt")))

    async def seen(self, ref: str) -> float:
        return float(await self.redis.hget(self._k("seen"), ref) or 0.0)

    async def set_seen(self, ref: str, at: float) -> None:
        await self.redis.hset(self._k("seen"), ref, repr(at))

    @asynccontextmanager
    async def creating(self, ref: str, consumer: str, instance: str, ttl_ms: int = 60_000) -> AsyncIterator[None]:
        """Held while the RT ticket of ``ref`` is looked up and created. Another consumer's lock means wait
        (``Busy``); one left by an earlier life of the same consumer (killed while holding it: a consumer
        name runs in one process at a time) is taken over at once."""
        key = self._k("lock", ref)
        owner = f"{consumer}:{instance}"
        if not await self.redis.set(key, owner, nx=True, px=ttl_ms):
            holder = str(await self.redis.get(key) or "")
            if not holder.startswith(f"{consumer}:") or holder == owner:
                raise Busy(f"the RT ticket of {ref} is being created by {holder or 'another worker'}")
            await self.redis.set(key, owner, px=ttl_ms)
        try:
            yield
        finally:
            if await self.redis.get(key) == owner:
                await self.redis.delete(key)

    # -- RT's transactions -----------------------------------------------------------------------------

    async def cursor(self) -> int | None:
        raw = await self.redis.get(self._k("cursor"))
        return int(raw) if raw else None

    async def is_done(self, txn: int) -> bool:
        return await self.redis.zscore(self._k("done"), str(txn)) is not None

    async def done(self, txn: int, cursor: int) -> None:
        """Transaction ``txn`` is handled; ``cursor`` is the highest handled (a slightly lower id committed
        later is still found: the poll looks back, and skips what is marked here)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._k("done"), {str(txn): txn})
            pipe.zremrangebyscore(self._k("done"), "-inf", cursor - DONE_WINDOW)
            pipe.set(self._k("cursor"), str(cursor))
            await pipe.execute()

    async def set_cursor(self, cursor: int) -> None:
        await self.redis.set(self._k("cursor"), str(cursor))

    async def count(self, name: str, amount: int = 1) -> None:
        await self.redis.hincrby(self._k("stats"), name, amount)

    async def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in (await self.redis.hgetall(self._k("stats"))).items()}
