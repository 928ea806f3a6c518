"""The Redis side of incidents (``handoff.incidents`` has the rules). Part of the handoff service's store:
same prefix, same connection, keys built here only.

Layout (``P`` = prefix):
  P inc:reports:{key}        zset conversation -> time of its report under ``key`` (the last 7 days + window)
  P inc:report:{conv}        JSON summary of the conversation's latest report (1 day): the first reports
  P inc:open:{key}           id of the open incident of ``key``
  P seq:incident             counter behind I-000001
  P incident:{id}            hash: ``doc`` (the incident as JSON, handoff.incidents.Incident), ``reports``
                             (conversations that reported it)
  P incident:{id}:conversations  hash conversation -> JSON {language, at, reference, how: report|told}
  P incident:{id}:tickets    set of the references of its child tickets
  P incidents                zset id -> opened_at;  P incidents:open  set of open ids
  P incident:notify          zset "{id}|{conversation}" -> when to tell that conversation it is resolved
  P incident:notify:tries    hash "{id}|{conversation}" -> attempts so far
Incident changes are events on ``P events`` (handoff.store: the stream webhooks and analytics read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Callable, Iterable
from typing import Any, cast

from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import WatchError  # type: ignore[import-untyped, unused-ignore]

from handoff import incidents
from handoff.errors import Conflict, IncidentNotFound
from handoff.incidents import Incident, Report

# Adds the conversation's report under each key (once per conversation and key), then answers, per key,
# the open incident or the counts the burst rule needs: {'open', key, id} or {'counts', key, n, h}.
_REPORT_LUA = """
local p, conv, now, window_start, history_start, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local out = {}
for i = 7, #ARGV do
  local key = ARGV[i]
  local zkey = p .. 'inc:reports:' .. key
  redis.call('ZADD', zkey, 'NX', now, conv)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', '(' .. history_start)
  redis.call('EXPIRE', zkey, ttl)
  local open = redis.call('GET', p .. 'inc:open:' .. key)
  if open then
    out[#out + 1] = {'open', key, open}
  else
    local n = redis.call('ZCOUNT', zkey, window_start, '+inf')
    local h = redis.call('ZCOUNT', zkey, history_start, '(' .. window_start)
    out[#out + 1] = {'counts', key, tostring(n), tostring(h)}
  end
end
return out
"""

# Opens an incident for KEYS-less ARGV key unless one is open: numbers it, marks the key, and answers the
# window's conversations (oldest first) that it starts with: {'opened', id, conv, ...} or {'exists', id}.
_OPEN_LUA = """
local p, key, now, window_start = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local open = redis.call('GET', p .. 'inc:open:' .. key)
if open then return {'exists', open} end
local n = redis.call('INCR', p .. 'seq:incident')
local id = string.format('I-%06d', n)
redis.call('SET', p .. 'inc:open:' .. key, id)
redis.call('ZADD', p .. 'incidents', now, id)
redis.call('SADD', p .. 'incidents:open', id)
local out = {'opened', id}
for _, conv in ipairs(redis.call('ZRANGEBYSCORE', p .. 'inc:reports:' .. key, window_start, '+inf')) do
  out[#out + 1] = conv
end
return out
"""

# Takes up to ARGV[3] notifications that are due and leases them for ARGV[4] seconds (another instance
# does not send them meanwhile); answers the members.
_LEASE_LUA = """
local key, now, count, lease = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local due = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, count)
for _, member in ipairs(due) do redis.call('ZADD', key, 'XX', now + lease, member) end
return due
"""

REPORT_TTL = int(incidents.HISTORY + incidents.WINDOW) + 3600


@dataclass(frozen=True)
class KeyState:
    """A key after a report: the incident open for it, or its reports in the window and in the history."""

    key: str
    open_incident: str | None
    in_window: int
    history: int

SUMMARY_TTL = 24 * 3600


class IncidentStore:
    def __init__(self, redis: Redis, prefix: str = "fd:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._report = redis.register_script(_REPORT_LUA)
        self._open = redis.register_script(_OPEN_LUA)
        self._lease = redis.register_script(_LEASE_LUA)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- reports and the detector ---------------------------------------------------------------------

    async def add_report(self, report: Report, now: float) -> list[KeyState]:
        """Count ``report`` under its keys; answers each key's open incident or its counts."""
        keys = report.keys
        if not keys:
            return []
        await self.redis.set(self._k("inc", "report", report.conversation_id),
                             json.dumps(report.summary(), ensure_ascii=False), ex=SUMMARY_TTL)
        raw = await self._report(keys=[], args=[
            self.prefix, report.conversation_id, repr(report.at), repr(now - incidents.WINDOW),
            repr(now - incidents.HISTORY), REPORT_TTL, *keys])
        return [KeyState(str(item[1]), str(item[2]), 0, 0) if item[0] == "open"
                else KeyState(str(item[1]), None, int(item[2]), int(item[3])) for item in raw]

    async def declare(self, keys: tuple[str, ...], make: Callable[[str], Incident], now: float) -> Incident:
        """A lead's incident for ``keys``; Conflict when one of them has an open incident already."""
        for key in keys:
            existing = await self.open_key(key)
            if existing is not None:
                raise Conflict(f"incident {existing} is open for {key}: merge into it or resolve it first")
        incident = make(f"I-{int(await self.redis.incr(self._k('seq', 'incident'))):06d}")
        await self.put(incident)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self._k("incidents"), {incident.id: now})
        pipe.sadd(self._k("incidents:open"), incident.id)
        for key in keys:
            pipe.set(self._k("inc", "open", key), incident.id, nx=True)
        await pipe.execute()
        return incident

    async def open_incident(self, key: str, now: float) -> tuple[str, bool, list[str]]:
        """(id, opened by this call, the window's conversations it starts with)."""
        raw = await self._open(keys=[], args=[self.prefix, key, repr(now), repr(now - incidents.WINDOW)])
        return str(raw[1]), raw[0] == "opened", [str(c) for c in raw[2:]]

    async def report_summaries(self, conversations: Iterable[str]) -> dict[str, dict[str, Any]]:
        convs = list(conversations)
        if not convs:
            return {}
        raw = await self.redis.mget([self._k("inc", "report", c) for c in convs])
        return {c: json.loads(r) for c, r in zip(convs, raw) if r}

    async def open_key(self, key: str) -> str | None:
        return cast(str | None, await self.redis.get(self._k("inc", "open", key)))

    # -- incidents ------------------------------------------------------------------------------------

    async def put(self, incident: Incident) -> None:
        await self.redis.hset(self._k("incident", incident.id), "doc",
                              json.dumps(incident.to_json(), ensure_ascii=False))

    async def get(self, incident_id: str) -> Incident:
        raw = await self.redis.hgetall(self._k("incident", incident_id))
        if not raw or "doc" not in raw:
            raise IncidentNotFound(f"incident {incident_id} does not exist")
        return self._decode(raw)

    @staticmethod
    def _decode(raw: dict[str, str]) -> Incident:
        data = json.loads(raw["doc"])
        data["reports"] = int(raw.get("reports") or 0)
        return Incident.from_json(data)

    async def mutate(self, incident_id: str, change: Callable[[Incident], Incident], retries: int = 20) -> Incident:
        """Read the incident, let ``change`` compute the new one (or raise), write it atomically."""
        key = self._k("incident", incident_id)
        for _ in range(retries):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.hgetall(key)
                    if not raw or "doc" not in raw:
                        raise IncidentNotFound(f"incident {incident_id} does not exist")
                    after = change(self._decode(raw))
                    pipe.multi()
                    pipe.hset(key, "doc", json.dumps(after.to_json(), ensure_ascii=False))
                    if not after.is_open:
                        pipe.srem(self._k("incidents:open"), incident_id)
                    await pipe.execute()
                    if not after.is_open:
                        await self._release_keys(after)
                    return after
                except WatchError:
                    continue
        raise Conflict(f"incident {incident_id} is changing too fast, try again")

    async def _release_keys(self, incident: Incident) -> None:
        for key in incident.keys:
            k = self._k("inc", "open", key)
            if await self.redis.get(k) == incident.id:
                await self.redis.delete(k)

    async def point_keys(self, keys: Iterable[str], incident_id: str) -> None:
        """The keys' reports join ``incident_id`` from now on (a merge)."""
        for key in keys:
            await self.redis.set(self._k("inc", "open", key), incident_id)

    async def open_ids(self) -> list[str]:
        return sorted(await self.redis.smembers(self._k("incidents:open")))

    async def recent_ids(self, limit: int = 100) -> list[str]:
        return cast(list[str], await self.redis.zrevrange(self._k("incidents"), 0, limit - 1))

    async def many(self, ids: list[str]) -> list[Incident]:
        pipe = self.redis.pipeline(transaction=False)
        for incident_id in ids:
            pipe.hgetall(self._k("incident", incident_id))
        return [self._decode(raw) for raw in await pipe.execute() if raw and "doc" in raw]

    # -- linked conversations and child tickets -------------------------------------------------------

    async def link(self, incident_id: str, conversation_id: str, entry: dict[str, Any], report: bool) -> bool:
        """Link a conversation (True when it was not linked yet); a report also counts on the incident."""
        key = self._k("incident", incident_id)
        added = bool(await self.redis.hsetnx(f"{key}:conversations", conversation_id,
                                             json.dumps(entry, ensure_ascii=False)))
        if added and report:
            await self.redis.hincrby(key, "reports", 1)
        return added

    async def unlink(self, incident_id: str, conversation_id: str) -> bool:
        key = self._k("incident", incident_id)
        raw = await self.redis.hget(f"{key}:conversations", conversation_id)
        if raw is None:
            return False
        await self.redis.hdel(f"{key}:conversations", conversation_id)
        if json.loads(raw).get("how") == "report":
            await self.redis.hincrby(key, "reports", -1)
        return True

    async def conversations(self, incident_id: str) -> dict[str, dict[str, Any]]:
        raw = await self.redis.hgetall(self._k("incident", incident_id, "conversations"))
        return {conv: json.loads(entry) for conv, entry in raw.items()}

    async def conversation_counts(self, ids: list[str]) -> list[int]:
        pipe = self.redis.pipeline(transaction=False)
        for incident_id in ids:
            pipe.hlen(self._k("incident", incident_id, "conversations"))
        return [int(n) for n in await pipe.execute()]

    async def add_ticket(self, incident_id: str, reference: str) -> None:
        await self.redis.sadd(self._k("incident", incident_id, "tickets"), reference)

    async def tickets(self, incident_id: str) -> list[str]:
        return sorted(await self.redis.smembers(self._k("incident", incident_id, "tickets")))

    # -- telling the conversations it is resolved (durable, retried) -----------------------------------

    async def schedule_notifications(self, incident_id: str, conversations: Iterable[str], at: float) -> int:
        members = {f"{incident_id}|{conv}": at for conv in conversations}
        if not members:
            return 0
        return int(await self.redis.zadd(self._k("incident", "notify"), members, nx=True))

    async def lease_notifications(self, now: float, count: int, lease: float) -> list[tuple[str, str]]:
        raw = await self._lease(keys=[self._k("incident", "notify")], args=[repr(now), count, repr(lease)])
        return [tuple(str(m).split("|", 1)) for m in raw]  # type: ignore[misc]

    async def notified(self, incident_id: str, conversation_id: str) -> None:
        member = f"{incident_id}|{conversation_id}"
        await self.redis.zrem(self._k("incident", "notify"), member)
        await self.redis.hdel(self._k("incident", "notify", "tries"), member)

    async def retry_notification(self, incident_id: str, conversation_id: str, now: float,
                                 backoff: Callable[[int], float], give_up_after: int) -> int:
        """Count a failed attempt and schedule the next one; after ``give_up_after`` attempts it is
        dropped. Returns the attempts so far."""
        member = f"{incident_id}|{conversation_id}"
        tries = int(await self.redis.hincrby(self._k("incident", "notify", "tries"), member, 1))
        if tries >= give_up_after:
            await self.notified(incident_id, conversation_id)
        else:
            await self.redis.zadd(self._k("incident", "notify"), {member: now + backoff(tries)}, xx=True)
        return tries

    async def pending_notifications(self) -> int:
        return int(await self.redis.zcard(self._k("incident", "notify")))
