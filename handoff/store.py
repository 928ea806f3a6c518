"""All Redis code of the handoff service. Every key is built here, under a configurable prefix, and
every write is derived here from a ticket's transition (before, after, event; ``handoff.transitions``):
the service names no keys.

Layout (``P`` = prefix):
  P ticket:{ref}            hash: ``view`` (JSON: the agents' view but the hash fields) + the hash fields
                            (``tickets.HASH_FIELDS``: status, agent, claim stamps, ...), see handoff.tickets
  P ticket:{ref}:history    list of JSON entries (append-only: who, when, what, why)
  P ticket:{ref}:replies    list of JSON agent replies;  P ticket:{ref}:notes  internal notes
  P ticket:{ref}:ratings    the customer's ratings with their (masked) comments
  P ticket:{ref}:applied    set of the idempotency keys of the helpdesk's changes applied (mutate_once)
  P seq:ticket              counter behind T-000123;     P secret:{secret} -> ref;  P conv:{id} -> ref
  P customer:{key}:open:{category} -> ref of the open ticket;  P customer:{key}:tickets zset
  P customer:{key}:contacts zset conversation -> time (repeated contact)
  P customer:{key}:low_ratings  zset ref -> time of the customer's ratings of 1-2 (risk.NEGATIVE_RATING;
                            kept risk.RATING_MEMORY; the create script counts them into negative_ratings)
  P queue:{name}            zset of waiting refs, score = priority rank * 1e13 + deadline ms
  P open                    set of open refs (console);  P waits:{queue} recent claim waits (s)
  P sla:due                 zset of open refs, score = the next time the SLA watcher has work for it
                            (transitions.next_sla_check; kept by every write of a ticket, so a sweep reads only due ones)
  P ratelimit:tickets:{client}:{hour}  new tickets of one anonymous client in one hour (expires)
  P tokens                  hash sha256(token) -> {name, role};  P agent:{name} hash of counters
  P stats:{kind}            hashes of counters (all-time analytics);  P lock:{name}
  P events                  stream of ticket events, one entry per change: type, ref, at (unix seconds),
                            data (JSON: the transition's Event.data with by and reason). Webhooks consume it
                            (a consumer group); analytics read it by time. Stream ids are Redis time (ms).
                            Kept: ``retention_days`` (90; trimmed by MINID, ``trim_streams``), at most
                            ``events_maxlen`` entries (MAXLEN ~ on every XADD)
  P signals                 stream of the bot's conversation signals (POST /api/v1/bot/signals), one entry
                            per signal: type, conv (conversation id), at (the signal's time, unix seconds),
                            data (JSON: language, text masked <= 500 chars, article_id, article_lang,
                            category, product, error_code, helped, embedding: only the keys sent; see
                            handoff.signals). Stream ids are the arrival time by the service's clock (ms;
                            ``append_signals``), so ``signals_between`` reads arrival times. Kept 90 days
                            (MINID ~ on every append) and at most ``signals_maxlen`` entries. Not on events:
                            webhooks do not see signals
  P analytics:{version}:{tz}:{day}  JSON tally of one complete past day (handoff.analytics; expires)
The Lua scripts build keys from the prefix too (single Redis or Sentinel; Cluster would need hash tags).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from ujson import dumps as fast_dumps  # the create and claim hot paths: same JSON, less CPU
from ujson import loads as fast_loads

from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import NoScriptError, ResponseError, WatchError  # type: ignore[import-untyped, unused-ignore]

from bot.contract import OPEN_STATUSES, WAITING_STATUSES
from handoff import signals as signal_codec
from handoff.analytics import StoredEvent, Tally, tally_from_json
from handoff.errors import Conflict, StoreUnavailable, TicketNotFound
from handoff.risk import CONTACTS_CAP, NEGATIVE_CAP, NEGATIVE_RATING, RATING_MEMORY
from handoff.settings import BusinessHours
from handoff.sla import queue_score
from handoff.signals import Signal
from handoff.tickets import (
    AGENT_HASH_FIELDS, HASH_FIELDS, LIST_NAMES, VIEW_FIELDS, Ticket, TicketLists, agent_json, agent_view,
    changed_fields, customer_keys, decode, encode_fields, encode_view,
)
from handoff.transitions import Event, Result, claim_event, next_sla_check, next_sla_checks_by_history

_CREATE_LUA = """
local spec = cjson.decode(ARGV[1])
local p = spec.prefix
local conv = p .. 'conv:' .. spec.conv
local existing = redis.call('GET', conv)
if existing then return {'existing', existing} end
if spec.client_limit > 0 then  -- new tickets per anonymous client and hour (an idempotent retry is free)
  local key = p .. 'ratelimit:tickets:' .. spec.client .. ':' .. spec.hour
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, 7200) end
  if n > spec.client_limit then return {'limited', ''} end
end
local contacts = 1
for _, ck in ipairs(spec.customer_keys) do
  local key = p .. 'customer:' .. ck .. ':contacts'
  redis.call('ZADD', key, 'NX', spec.now, spec.conv)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', spec.cutoff)
  redis.call('EXPIRE', key, spec.contacts_ttl)
  local n = redis.call('ZCARD', key)
  if n > contacts then contacts = n end
end
local function is_open(ref)
  local st = redis.call('HGET', p .. 'ticket:' .. ref, 'status')
  return st == 'queued' or st == 'claimed' or st == 'waiting_customer' or st == 'escalated'
end
-- only a signed login joins an open ticket of the same customer: a typed e-mail address is contact
-- information, never proof of identity (attaching would show the visitor that ticket's reference and
-- code and send its agent replies to them). Agents see the other open ticket as a possible duplicate.
local related
for _, ck in ipairs(spec.customer_keys) do
  local ref = redis.call('GET', p .. 'customer:' .. ck .. ':open:' .. spec.category)
  if ref and is_open(ref) then
    if spec.verified and string.sub(ck, 1, 3) == 'id:' then return {'attach', ref} end
    related = related or ref
  end
end
local negative = 0  -- the customer's earlier negative ratings (escalation risk)
for _, ck in ipairs(spec.customer_keys) do
  local n = redis.call('ZCOUNT', p .. 'customer:' .. ck .. ':low_ratings', spec.ratings_cutoff, '+inf')
  if n > negative then negative = n end
end
local v = spec.variants[1]
if contacts >= spec.repeat_threshold then v = spec.variants[2] end
local sla_next = v.sla_next[math.min(contacts, spec.contacts_cap) .. ':' .. math.min(negative, spec.negative_cap)]
local n = redis.call('INCR', p .. 'seq:ticket')
local ref = string.format('T-%06d', n)
local tk = p .. 'ticket:' .. ref
redis.call('SET', conv, ref)
redis.call('SET', p .. 'secret:' .. spec.secret, ref)
local flat = {'view', ARGV[2], 'reference', ref, 'contacts_7d', tostring(contacts), 'possible_duplicate_of',
              related or '', 'negative_ratings', tostring(negative)}
if v == spec.variants[2] then flat[2] = ARGV[3] end
for k, val in pairs(v.fields) do table.insert(flat, k); table.insert(flat, val) end
redis.call('HSET', tk, unpack(flat))
redis.call('ZADD', p .. 'queue:' .. spec.queue, v.score, ref)
redis.call('SADD', p .. 'open', ref)
if sla_next ~= '' then redis.call('ZADD', p .. 'sla:due', sla_next, ref) end
redis.call('RPUSH', tk .. ':history', v.history)
for _, ck in ipairs(spec.customer_keys) do
  local key = p .. 'customer:' .. ck
  local current = redis.call('GET', key .. ':open:' .. spec.category)
  if not current or not is_open(current) then redis.call('SET', key .. ':open:' .. spec.category, ref) end
  redis.call('ZADD', key .. ':tickets', spec.now, ref)
end
for _, c in ipairs(spec.counters) do redis.call('HINCRBY', p .. c[1], c[2], 1) end
redis.call('XADD', p .. 'events', 'MAXLEN', '~', spec.maxlen, '*', 'type', 'created', 'ref', ref,
           'at', spec.now, 'data', v.event)
if v == spec.variants[2] then return {'created', ref, '1'} end
return {'created', ref, '0'}
"""

# Appends signals with stream ids from the service's clock (ARGV[1], ms) rather than Redis' own, kept
# increasing (a clock behind the last id continues after it), so the ids are arrival times in the time the
# service and its tests live in. Trims by time (ARGV[2]: the oldest ms kept) and by length (ARGV[3]).
# ARGV[4..]: type, conv, at, data of each signal.
_APPEND_SIGNALS_LUA = """
local key = KEYS[1]
local ms, seq = tonumber(ARGV[1]), 0
if redis.call('EXISTS', key) == 1 then
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local last = info[i + 1]
      local dash = string.find(last, '-', 1, true)
      local last_ms, last_seq = tonumber(string.sub(last, 1, dash - 1)), tonumber(string.sub(last, dash + 1))
      if last_ms >= ms then ms = last_ms; seq = last_seq + 1 end
    end
  end
end
for i = 4, #ARGV, 4 do
  redis.call('XADD', key, 'MINID', '~', ARGV[2], string.format('%.0f-%.0f', ms, seq),
             'type', ARGV[i], 'conv', ARGV[i + 1], 'at', ARGV[i + 2], 'data', ARGV[i + 3])
  seq = seq + 1
end
redis.call('XTRIM', key, 'MAXLEN', '~', ARGV[3])
return (#ARGV - 3) / 4
"""

# One batch of a stream for analytics, read inside Redis and answered as ONE string (redis-py's pure-Python
# reply parser costs ~10 us per element; an entry is ten of them): per entry id, type, ref (events) or conv
# (signals), at and data joined by NUL, entries joined by \1. JSON holds neither byte (it escapes control
# characters); the other fields have them replaced, so a stored value can never shift the fields.
_RANGE_LUA = """
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[2], 'COUNT', ARGV[3])
local out = {}
for i, e in ipairs(entries) do
  local f = e[2]
  local kind, key, at, data
  if f[1] == 'type' and f[5] == 'at' and f[7] == 'data' then  -- the order every writer uses
    kind, key, at, data = f[2], f[4], f[6], f[8]
  else
    local m = {}
    for j = 1, #f, 2 do m[f[j]] = f[j + 1] end
    kind, key, at, data = m['type'] or '', m['ref'] or m['conv'] or '', m['at'] or '0', m['data'] or '{}'
  end
  out[i] = e[1] .. '\0' .. string.gsub(kind, '[%z\1]', '?') .. '\0' .. string.gsub(key, '[%z\1]', '?') .. '\0'
    .. string.gsub(at, '[%z\1]', '?') .. '\0' .. data
end
return table.concat(out, '\1')
"""

_EXTEND_IF_EQUAL_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_DELETE_IF_EQUAL_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Takes the best waiting ticket of the queues in ARGV[5] and claims it as transitions.claim does;
# each queue comes with the claim's history entry and stream data as the store's codec writes them (JSON
# from Python: the script writes none). Answers the stored view, the agents' hash fields and the lists, which
# tickets.agent_json joins into the agents' JSON without decoding anything. One string is the cheapest reply
# to parse: the parts joined by NUL, which no JSON text and no stored value holds (the counts prove it).
_CLAIM_LUA = """
local p, agent, now, packed = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local args, pos = {}, 1
while true do  -- ARGV[5]: queue, history entry, stream data, queue, ... joined by NUL (one argument is cheaper)
  local i = string.find(packed, '\\0', pos, true)
  if not i then args[#args + 1] = string.sub(packed, pos); break end
  args[#args + 1] = string.sub(packed, pos, i - 1); pos = i + 1
end
local best, bestscore, besti
for i = 1, #args, 3 do
  local r = redis.call('ZRANGE', p .. 'queue:' .. args[i], 0, 0, 'WITHSCORES')
  if r[1] then
    local sc = tonumber(r[2])
    if best == nil or sc < bestscore then best = r[1]; bestscore = sc; besti = i end
  end
end
if best == nil then return false end
local q = args[besti]
redis.call('ZREM', p .. 'queue:' .. q, best)
local tk = p .. 'ticket:' .. best
local enq = tonumber(redis.call('HGET', tk, 'enqueued_at') or now)
redis.call('HSET', tk, 'status', 'claimed', 'agent', agent, 'claimed_at', now, 'updated_at', now)
redis.call('HINCRBY', tk, 'version', 1)
redis.call('RPUSH', tk .. ':history', args[besti + 1])
redis.call('LPUSH', p .. 'waits:' .. q, tostring(tonumber(now) - enq))
redis.call('LTRIM', p .. 'waits:' .. q, 0, 49)
redis.call('HINCRBY', p .. 'agent:' .. agent, 'claimed', 1)
redis.call('XADD', p .. 'events', 'MAXLEN', '~', ARGV[4], '*', 'type', 'claimed', 'ref', best, 'at', now,
  'data', args[besti + 2])
local view = redis.call('HGET', tk, 'view')
if not view then return {best} end  -- stored before the view existed: Python reads it
local parts = {best, 0, 0, 0, view}
for _, value in ipairs(redis.call('HMGET', tk, {AGENT_FIELDS})) do
  if not value then return {best} end
  parts[#parts + 1] = value
end
for i, name in ipairs({'history', 'replies', 'notes'}) do
  local items = redis.call('LRANGE', tk .. ':' .. name, 0, -1)
  parts[i + 1] = #items
  for _, item in ipairs(items) do parts[#parts + 1] = item end
end
return table.concat(parts, '\\0')
""".replace("{AGENT_FIELDS}", ", ".join(f"'{name}'" for name in AGENT_HASH_FIELDS))


class ScriptBatcher:
    """Runs one Lua script for the concurrent callers of this process: the calls made during one event
    loop iteration leave together in a pipeline (one write; the replies come back in one read) instead of
    one round trip each. Every call stays its own atomic script, and Redis runs them one after the other
    anyway; what is saved is the client's per-command cost (pool, socket calls, wake-ups) on both sides.
    A call made alone waits only for the end of its loop iteration."""

    def __init__(self, redis: Redis, script: str) -> None:
        self.redis = redis
        self.script = redis.register_script(script)
        self._pending: list[tuple[list[Any], asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, args: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._send)
        self._pending.append((args, future))
        return await future

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))  # not the callers' task: one may be cancelled
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[list[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._execute([args for args, _ in batch])
        except BaseException as exc:  # connection lost or timed out (or shutdown): every caller learns it
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _execute(self, calls: list[list[Any]]) -> list[Any]:
        if len(calls) == 1:
            try:
                return [await self.script(args=calls[0])]  # loads the script again after a SCRIPT FLUSH
            except ResponseError as exc:
                return [exc]
        pipe = self.redis.pipeline(transaction=False)
        for args in calls:
            pipe.evalsha(self.script.sha, 0, *args)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        for i, result in enumerate(results):
            if isinstance(result, NoScriptError):  # the script did not run: load it and run it again
                try:
                    results[i] = await self.script(args=calls[i])
                except ResponseError as exc:
                    results[i] = exc
        return results


@dataclass(frozen=True)
class ClaimedTicket:
    reference: str
    agent_json: str  # the ticket as agents see it (no secret_reference) with its lists, as JSON text
    from_script: bool = True  # False: the script returned the raw record and it was decoded in Python


@dataclass(frozen=True)
class CreateResult:
    outcome: str  # created | existing | attach | limited
    reference: str
    repeated_contact: bool = False


RETENTION_DAYS = 90.0  # the event and signal streams keep this many days (analytics read up to 90 days)
EVENTS_MAXLEN = 2_000_000  # a cap: 90 days of 2,000 tickets a day (5-10 events each) fit under it
SIGNALS_MAXLEN = 2_000_000
READ_BATCH = 1000  # stream entries per read: the script holds Redis a few ms for each
ANALYTICS_DAY_TTL = 100 * 86400  # a cached day tally outlives the streams' retention


class Store:
    def __init__(self, redis: Redis, prefix: str = "fd:", *, events_maxlen: int = EVENTS_MAXLEN,
                 replica_acks: int = 0, replica_ack_timeout_ms: int = 1000, signals_maxlen: int = SIGNALS_MAXLEN,
                 retention_days: float = RETENTION_DAYS, business_hours: BusinessHours = BusinessHours()) -> None:
        self.redis = redis
        self.prefix = prefix
        self.hours = business_hours  # the SLA clocks (the schedule's escalation-risk moment counts in them)
        self.events_maxlen = events_maxlen
        self.signals_maxlen = signals_maxlen
        self.retention_days = retention_days
        self.replica_acks = replica_acks
        self.replica_ack_timeout_ms = replica_ack_timeout_ms
        self._create = redis.register_script(_CREATE_LUA)
        self._claim = ScriptBatcher(redis, _CLAIM_LUA)
        self._append_signals = redis.register_script(_APPEND_SIGNALS_LUA)
        self._range_script = redis.register_script(_RANGE_LUA)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def events_key(self) -> str:
        return self._k("events")

    @property
    def signals_key(self) -> str:
        """The bot's conversation signals (answered, not answered, votes): a stream apart from the events."""
        return self._k("signals")

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- tokens ---------------------------------------------------------------------------------------

    async def register_token(self, token: str, name: str, role: str, now: float) -> None:
        record = json.dumps({"name": name, "role": role, "created_at": now})
        await self.redis.hset(self._k("tokens"), token_hash(token), record)

    async def agent_for_token(self, token: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self._k("tokens"), token_hash(token))
        if raw is None:
            return None
        return cast(dict[str, Any], json.loads(raw))

    async def agent_names(self) -> list[str]:
        records = await self.redis.hvals(self._k("tokens"))
        return sorted({json.loads(r)["name"] for r in records})

    # -- create ---------------------------------------------------------------------------------------

    async def conversation_ref(self, conversation_id: str) -> str | None:
        ref = await self.redis.get(self._k("conv", conversation_id))
        return cast(str | None, ref)

    async def create(self, normal: Result, repeated: Result | None, *, client: str, client_limit: int,
                     repeat_window: float, repeat_threshold: int, now: float) -> CreateResult:
        """One round trip (see _CREATE_LUA): idempotency by conversation, the anonymous client's hourly
        limit, the repeated-contact count (``repeated`` is the ticket as it is when the customer reached
        ``repeat_threshold`` conversations in ``repeat_window`` seconds; None: the same), attach
        detection, the customer's earlier negative ratings, and the new ticket with its queue, schedule
        (the time for the contacts and ratings the script counts), customer keys, counters and event."""
        ticket, event = normal
        variants, views = [], []
        # the contact counts (cut at the cap, like the script's key) under which the script keeps each variant
        if repeated is None:
            ranges = (range(1, CONTACTS_CAP + 1), range(1, CONTACTS_CAP + 1))
        else:
            ranges = (range(1, min(repeat_threshold, CONTACTS_CAP + 1)),
                      range(min(repeat_threshold, CONTACTS_CAP), CONTACTS_CAP + 1))
        schedule: dict[str, str] = {}
        for (t, e), contacts in zip((normal, repeated or normal), ranges):
            if repeated is not None or not schedule:  # without a repeated variant both are the same ticket
                schedule = {key: "" if at is None else repr(at)
                            for key, at in next_sla_checks_by_history(t, self.hours, contacts).items()}
            fields = encode_fields(t, [n for n in HASH_FIELDS if n not in _SET_BY_CREATE_SCRIPT])
            variants.append({"fields": fields, "score": repr(queue_score(t.priority, t.first_response_due)),
                             "sla_next": schedule, "history": _history_entry(e, now), "event": _event_data(e)})
            views.append(encode_view(t))
        spec = {
            "prefix": self.prefix, "maxlen": str(self.events_maxlen), "conv": ticket.conversation_id,
            "secret": ticket.secret_reference, "category": ticket.category, "queue": ticket.queue,
            "customer_keys": customer_keys(ticket.customer), "now": repr(now), "cutoff": repr(now - repeat_window),
            "contacts_ttl": int(repeat_window) + 86400, "repeat_threshold": repeat_threshold,
            "counters": [[key, name] for key, name, _ in _stats(ticket, ticket, event)], "variants": variants,
            "verified": ticket.customer_verified, "client": client, "client_limit": client_limit,
            "hour": int(now // 3600), "ratings_cutoff": repr(now - RATING_MEMORY),
            "contacts_cap": CONTACTS_CAP, "negative_cap": NEGATIVE_CAP,
        }
        args = [fast_dumps(spec), *views]
        result = await (self._create_replicated(args) if self.replica_acks else self._create(keys=[], args=args))
        return CreateResult(str(result[0]), str(result[1]), len(result) > 2 and result[2] == "1")

    async def _create_replicated(self, args: list[str]) -> Any:
        """The create script, then WAIT until ``replica_acks`` replicas have it, on one connection (WAIT
        counts its own connection's writes). The marker write after the script makes the WAIT cover the
        ticket also when the script wrote nothing: a retry that finds the ticket of an earlier attempt
        whose confirmation timed out. Too few replicas: 503, the client retries (create is idempotent)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            await self._create(keys=[], args=args, client=pipe)
            pipe.set(self._k("replication", "fence"), "1")
            pipe.wait(self.replica_acks, self.replica_ack_timeout_ms)
            result, _fence, acked = await pipe.execute()
        if int(acked) < self.replica_acks:
            raise StoreUnavailable(f"the ticket store has {acked} of {self.replica_acks} replica(s) confirming; "
                                   "try again shortly")
        return result

    async def link_conversation(self, conversation_id: str, ref: str) -> str:
        """Point a conversation at ``ref`` unless it already points somewhere; return the winner."""
        key = self._k("conv", conversation_id)
        if await self.redis.set(key, ref, nx=True):
            return ref
        return cast(str, await self.redis.get(key))

    # -- read -----------------------------------------------------------------------------------------

    async def ticket(self, ref: str) -> Ticket:
        raw = await self.redis.hgetall(self._k("ticket", ref))
        if not raw:
            raise TicketNotFound(f"ticket {ref} does not exist")
        return decode(raw)

    async def ticket_with_lists(self, ref: str) -> tuple[Ticket, TicketLists]:
        key = self._k("ticket", ref)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(key)
        for name in LIST_NAMES:
            pipe.lrange(f"{key}:{name}", 0, -1)
        raw, *lists = await pipe.execute()
        if not raw:
            raise TicketNotFound(f"ticket {ref} does not exist")
        return decode(raw), TicketLists(*(tuple(json.loads(item) for item in items) for items in lists))

    async def ref_for_secret(self, secret: str) -> str:
        ref = await self.redis.get(self._k("secret", secret))
        if ref is None:
            raise TicketNotFound("no ticket with this reference")
        return cast(str, ref)

    async def customer_refs(self, customer_key: str) -> list[str]:
        refs = await self.redis.zrevrange(self._k("customer", customer_key, "tickets"), 0, 99)
        return cast(list[str], refs)

    async def queue_position(self, queue: str, ref: str) -> int | None:
        rank = await self.redis.zrank(self._k("queue", queue), ref)
        return None if rank is None else int(rank) + 1

    async def queue_length(self, queue: str) -> int:
        return int(await self.redis.zcard(self._k("queue", queue)))

    async def recent_waits(self, queue: str) -> list[float]:
        return [float(w) for w in await self.redis.lrange(self._k("waits", queue), 0, -1)]

    async def queue_stats(self, queues: Iterable[str], now: float) -> list[dict[str, Any]]:
        names = list(queues)
        pipe = self.redis.pipeline(transaction=False)
        for q in names:
            pipe.zcard(self._k("queue", q))
            pipe.zrange(self._k("queue", q), 0, -1)
        results = await pipe.execute()
        out = []
        for i, q in enumerate(names):
            refs: list[str] = results[2 * i + 1]
            oldest = 0.0
            breaches = 0
            if refs:
                pipe = self.redis.pipeline(transaction=False)
                for ref in refs:
                    pipe.hmget(self._k("ticket", ref), "enqueued_at", "first_response_due")
                for enq, due in await pipe.execute():
                    if enq is not None:
                        oldest = max(oldest, now - float(enq))
                    if due is not None and float(due) < now:
                        breaches += 1
            out.append({"queue": q, "depth": int(results[2 * i]), "oldest_wait_seconds": round(oldest, 1),
                        "sla_breaches": breaches})
        return out

    async def open_refs(self) -> list[str]:
        return sorted(await self.redis.smembers(self._k("open")))

    # -- SLA schedule ---------------------------------------------------------------------------------

    async def due_refs(self, now: float, limit: int) -> list[str]:
        """Open tickets whose next SLA check is due (earliest first), at most ``limit``."""
        refs = await self.redis.zrangebyscore(self._k("sla", "due"), "-inf", repr(now), start=0, num=limit)
        return cast(list[str], refs)

    async def sla_scheduled(self, ref: str) -> float | None:
        score = await self.redis.zscore(self._k("sla", "due"), ref)
        return None if score is None else float(score)

    async def reschedule_sla(self, ref: str, now: float, retry_at: float, retries: int = 20) -> float | None:
        """Set the ticket's next SLA check from its current state, atomically with respect to other writers
        (who keep it themselves, see _apply): a check that is due but has nothing to do (a tier-1 ticket with
        nowhere to escalate) is looked at again at ``retry_at``. Returns the new time (None: no check)."""
        key, due_key = self._k("ticket", ref), self._k("sla", "due")
        for _ in range(retries):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.hgetall(key)
                    at = next_sla_check(decode(raw), self.hours) if raw else None
                    pipe.multi()
                    if at is None:
                        pipe.zrem(due_key, ref)
                    else:
                        at = retry_at if at <= now else at
                        pipe.zadd(due_key, {ref: at})
                    await pipe.execute()
                    return at
                except WatchError:
                    continue
        return None  # the ticket keeps changing: its writers keep the schedule

    async def backfill_sla_schedule(self, batch: int = 1000) -> int:
        """Once per key prefix: schedule the open tickets written before the schedule existed (an upgrade).
        Adds only missing members (NX), so it never moves a time a writer has set meanwhile."""
        marker = self._k("sla", "scheduled")
        if await self.redis.exists(marker):
            return 0
        added, cursor = 0, 0
        while True:
            cursor, refs = await self.redis.sscan(self._k("open"), cursor, count=batch)
            if refs:
                due = {}
                for ref, state in zip(refs, await self.tickets_state_raw(list(refs))):
                    at = next_sla_check(decode(state), self.hours) if state else None
                    if at is not None:
                        due[ref] = at
                if due:
                    added += int(await self.redis.zadd(self._k("sla", "due"), due, nx=True))
            if int(cursor) == 0:
                break
        await self.redis.set(marker, "1")
        return added

    async def tickets(self, refs: list[str]) -> list[Ticket | None]:
        """The tickets ``refs`` (without their lists), in order; None for one that does not exist."""
        return [decode(raw) if raw else None for raw in await self.tickets_state_raw(refs)]

    async def tickets_state_raw(self, refs: list[str]) -> list[dict[str, str]]:
        """The stored state hashes of ``refs``, in order ({} for a ticket that does not exist)."""
        pipe = self.redis.pipeline(transaction=False)
        for ref in refs:
            pipe.hgetall(self._k("ticket", ref))
        return cast(list[dict[str, str]], await pipe.execute())

    # -- change ---------------------------------------------------------------------------------------

    async def claim_next(self, queues: list[str], agent: str, now: float) -> ClaimedTicket | None:
        """Atomically take the best waiting ticket of ``queues`` (one script, sent in a pipeline with the
        concurrent claims of this process); None when all are empty. The script answers the stored parts,
        joined into the agents' JSON by ``tickets.agent_json``; a ticket stored before the view existed is
        read and encoded in Python."""
        packed: list[str] = []
        for queue in queues:
            event, data = _claim_texts(agent, queue)
            packed += (queue, _history_entry(event, now), data)
        result = await self._claim([self.prefix, agent, repr(now), self.events_maxlen, "\0".join(packed)])
        if not result:
            return None
        if isinstance(result, str):
            parts = result.split("\0")
            counts = [int(n) for n in parts[1:4]]
            values = 5 + len(AGENT_HASH_FIELDS)
            if len(parts) == values + sum(counts):
                h, r = values + counts[0], values + counts[0] + counts[1]
                return ClaimedTicket(parts[0], agent_json(parts[4], parts[5:values], parts[values:h], parts[h:r],
                                                          parts[r:]))
            reference = parts[0]
        else:
            reference = result[0]
        ticket, lists = await self.ticket_with_lists(reference)  # not as today's version stores it
        return ClaimedTicket(reference, fast_dumps(agent_view(ticket, lists), ensure_ascii=False), from_script=False)

    async def mutate(self, ref: str, transition: Callable[[Ticket], Result | None], now: float,
                     retries: int = 50) -> Ticket:
        """Read the ticket, let the pure ``transition`` compute the new ticket and its event (or raise, or
        return None for no change), and write it atomically (WATCH/MULTI, retried when another writer got
        there first). Returns the ticket as written."""
        ticket, _applied = await self._mutate(ref, transition, now, None, retries)
        return ticket

    async def mutate_once(self, ref: str, key: str, transition: Callable[[Ticket], Result | None],
                          now: float) -> tuple[Ticket, bool]:
        """``mutate`` at most once per idempotency ``key`` of this ticket (the helpdesk's transaction id):
        the key is recorded in the same transaction as the change, so a retried request changes nothing.
        Returns the ticket and whether this call applied the change (False: the key was applied before)."""
        return await self._mutate(ref, transition, now, key, 50)

    async def applied(self, ref: str, key: str) -> bool:
        """Whether the idempotency ``key`` was applied to ticket ``ref`` (``mutate_once``)."""
        return bool(await self.redis.sismember(self._k("ticket", ref, "applied"), key))

    async def _mutate(self, ref: str, transition: Callable[[Ticket], Result | None], now: float, once: str | None,
                      retries: int) -> tuple[Ticket, bool]:
        key = self._k("ticket", ref)
        applied_key = self._k("ticket", ref, "applied")
        for _ in range(retries):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key, applied_key) if once is not None else await pipe.watch(key)
                    raw = await pipe.hgetall(key)
                    if not raw:
                        raise TicketNotFound(f"ticket {ref} does not exist")
                    before = decode(raw)
                    if once is not None and await pipe.sismember(applied_key, once):
                        await pipe.unwatch()
                        return before, False
                    result = transition(before)
                    if result is None:
                        await pipe.unwatch()
                        return before, False
                    after, event = result
                    after = replace(after, version=before.version + 1, updated_at=now)
                    pipe.multi()
                    self._write(pipe, before, after, event, now, rewrite="view" not in raw,
                                missing=[n for n in HASH_FIELDS if n not in raw])
                    if once is not None:
                        pipe.sadd(applied_key, once)
                    await pipe.execute()
                    return after, True
                except WatchError:
                    continue
        raise Conflict(f"ticket {ref} is changing too fast, try again")

    def _write(self, pipe: Any, before: Ticket, after: Ticket, event: Event, now: float, rewrite: bool,
               missing: list[str]) -> None:
        """Every Redis write of one change, derived from the ticket before and after and the event
        (``missing``: hash fields a previous version did not store, written with it so the claim script
        can answer the ticket)."""
        ref = after.reference
        key = self._k("ticket", ref)
        changed = list(HASH_FIELDS) + list(VIEW_FIELDS) if rewrite else changed_fields(before, after)
        fields = encode_fields(after, [n for n in HASH_FIELDS if n in changed or n in missing])
        if any(n not in HASH_FIELDS for n in changed):
            fields["view"] = encode_view(after)
        if rewrite:  # stored before the view existed: its doc and loose state fields go
            pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.rpush(f"{key}:history", _history_entry(event, now))
        if event.item is not None:
            pipe.rpush(f"{key}:{ITEM_LISTS[event.kind]}", json.dumps(event.item))
        waiting_before, waiting_after = before.status in WAITING_STATUSES, after.status in WAITING_STATUSES
        moved = after.queue != before.queue
        if waiting_before and (moved or not waiting_after):
            pipe.zrem(self._k("queue", before.queue), ref)
        if waiting_after and (moved or not waiting_before or after.priority != before.priority
                              or after.first_response_due != before.first_response_due):
            pipe.zadd(self._k("queue", after.queue), {ref: queue_score(after.priority, after.first_response_due)})
        at = next_sla_check(after, self.hours)  # the watcher's schedule follows every write
        if at is None:
            pipe.zrem(self._k("sla", "due"), ref)
        else:
            pipe.zadd(self._k("sla", "due"), {ref: at})
        open_before, open_after = before.status in OPEN_STATUSES, after.status in OPEN_STATUSES
        if open_before and not open_after:
            pipe.srem(self._k("open"), ref)
            for ck in customer_keys(after.customer):  # drop the pointer only while it still points here
                pipe.eval(_DELETE_IF_EQUAL_LUA, 1, self._k("customer", ck, "open", after.category), ref)
        elif open_after and not open_before:
            pipe.sadd(self._k("open"), ref)
            for ck in customer_keys(after.customer):  # a newer open ticket of the same customer keeps it
                pipe.set(self._k("customer", ck, "open", after.category), ref, nx=True)
        if event.kind == "rated" and after.rating is not None:  # the customer's rating history (risk)
            for ck in customer_keys(after.customer):
                low = self._k("customer", ck, "low_ratings")
                if after.rating <= NEGATIVE_RATING:
                    pipe.zadd(low, {ref: now})
                    pipe.zremrangebyscore(low, "-inf", repr(now - RATING_MEMORY))
                    pipe.expire(low, int(RATING_MEMORY) + 86400)
                else:  # rated again, better
                    pipe.zrem(low, ref)
        for suffix, name, amount in _stats(before, after, event):
            pipe.hincrby(self._k(suffix), name, amount)
        pipe.xadd(self.events_key, {"type": event.kind, "ref": ref, "at": repr(now), "data": _event_data(event)},
                  maxlen=self.events_maxlen, approximate=True)

    async def record_event(self, ref: str, event: Event, now: float) -> None:
        """An event about a ticket that changes nothing stored on it (a proposed KB article)."""
        await self.redis.xadd(self.events_key, {"type": event.kind, "ref": ref, "at": repr(now),
                                                "data": _event_data(event)},
                              maxlen=self.events_maxlen, approximate=True)

    # -- analytics ------------------------------------------------------------------------------------

    async def stats(self) -> dict[str, dict[str, int]]:
        """Every counter of ``STATS`` (see _stats), by its name."""
        pipe = self.redis.pipeline(transaction=False)
        for name in STATS:
            pipe.hgetall(self._k("stats", name))
        return {name: {k: int(v) for k, v in raw.items()} for name, raw in zip(STATS, await pipe.execute())}

    async def agent_counters(self, names: list[str]) -> dict[str, dict[str, int]]:
        """Claimed, replies, resolved, rating_sum and rating_count of each agent."""
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._k("agent", name))
        return {name: {k: int(v) for k, v in raw.items()} for name, raw in zip(names, await pipe.execute())}

    # -- the streams by time (analytics, signals) ----------------------------------------------------------

    async def append_signals(self, signals: Sequence[Signal], now: float) -> int:
        """Append the bot's signals to the signals stream (one round trip, ids = arrival by ``now``), trimming
        entries older than the retention and beyond ``signals_maxlen``. Returns how many were added."""
        if not signals:
            return 0
        args: list[str] = [f"{now * 1000:.0f}", f"{(now - self.retention_days * 86400) * 1000:.0f}",
                           str(self.signals_maxlen)]
        for signal in signals:
            fields = signal_codec.encode(signal)
            args += (fields["type"], fields["conv"], fields["at"], fields["data"])
        return int(await self._append_signals(keys=[self.signals_key], args=args))

    async def signals_between(self, start: float, end: float) -> list[Signal]:
        """The signals that arrived from ``start`` to ``end`` (unix seconds, both included), oldest first.
        A signal's own ``at`` may be earlier than its arrival, or up to an hour later."""
        out: list[Signal] = []
        async for batch in self.signal_batches(start, end):
            out += batch
        return out

    async def signal_batches(self, start: float, end: float | None = None) -> AsyncIterator[list[Signal]]:
        """The signals that arrived from ``start`` (to ``end``, or the newest), in batches, oldest first."""
        async for entries in self._range(self.signals_key, start, end):
            yield [signal_codec.decode(kind, conv, at, data) for _, kind, conv, at, data in entries]

    async def event_batches(self, start: float, end: float | None = None) -> AsyncIterator[list[StoredEvent]]:
        """The events stored from ``start`` (to ``end``, or the newest) by their stream ids (Redis' time), in
        batches, oldest first."""
        async for entries in self._range(self.events_key, start, end):
            yield [StoredEvent(kind, ref, _float(at), _json_object(data)) for _, kind, ref, at, data in entries]

    async def _range(self, key: str, start: float, end: float | None) -> AsyncIterator[list[list[str]]]:
        """Batches of (id, type, ref or conv, at, data) of the stream ``key`` by id (time in ms)."""
        low = f"{max(0.0, start) * 1000:.0f}-0"
        high = "+" if end is None else f"{max(0.0, end) * 1000:.0f}-18446744073709551615"
        while True:
            packed = await self._range_script(keys=[key], args=[low, high, READ_BATCH])
            if not packed:
                return
            entries = [entry.split("\0", 4) for entry in packed.split("\1")]
            yield entries
            if len(entries) < READ_BATCH:
                return
            low = "(" + entries[-1][0]

    async def history_from(self) -> dict[str, float | None]:
        """The ``at`` of the oldest entry still kept in each stream (None: empty)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrange(self.events_key, count=1)
        pipe.xrange(self.signals_key, count=1)
        events, signals = await pipe.execute()
        return {"events": _first_at(events), "signals": _first_at(signals)}

    async def trim_streams(self, now: float) -> int:
        """Drop what is older than the retention from both streams (approximately: whole stream nodes).
        Returns the number of entries removed."""
        minid = f"{(now - self.retention_days * 86400) * 1000:.0f}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.xtrim(self.events_key, minid=minid, approximate=True)
        pipe.xtrim(self.signals_key, minid=minid, approximate=True)
        return sum(int(n) for n in await pipe.execute())

    async def analytics_days(self, namespace: str, days: Sequence[str]) -> dict[str, Tally]:
        """The cached tallies of these days (``handoff.analytics``), by day; days not cached are left out."""
        if not days:
            return {}
        raw = await self.redis.mget([self._k("analytics", namespace, day) for day in days])
        return {day: tally_from_json(text) for day, text in zip(days, raw) if text}

    async def save_analytics_days(self, namespace: str, tallies: dict[str, Tally]) -> None:
        if not tallies:
            return
        pipe = self.redis.pipeline(transaction=False)
        for day, tally in tallies.items():
            pipe.set(self._k("analytics", namespace, day), json.dumps(tally, separators=(",", ":")),
                     ex=ANALYTICS_DAY_TTL)
        await pipe.execute()

    # -- stats, locks, events -------------------------------------------------------------------------

    async def acquire_lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(self._k("lock", name), owner, nx=True, px=ttl_ms))

    async def extend_lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Keep a lock this owner still holds for another ``ttl_ms``; False when it has lost it."""
        return bool(await self.redis.eval(_EXTEND_IF_EQUAL_LUA, 1, self._k("lock", name), owner, ttl_ms))

    async def release_lock(self, name: str, owner: str) -> None:
        key = self._k("lock", name)
        if await self.redis.get(key) == owner:
            await self.redis.delete(key)

    async def ensure_group(self, group: str, stream: str | None = None) -> None:
        """The consumer group ``group`` on ``stream`` (default: the events stream), from now on."""
        try:
            await self.redis.xgroup_create(stream or self.events_key, group, id="$", mkstream=True)
        except Exception as exc:  # BUSYGROUP: the group exists already
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_group(self, group: str, consumer: str, count: int, block_ms: int,
                         stream: str | None = None) -> list[tuple[str, dict[str, str]]]:
        """Entries of ``stream`` for this consumer: first those another consumer took and did not
        acknowledge within a minute (it died), then new ones."""
        key = stream or self.events_key
        reclaimed = await self.redis.xautoclaim(key, group, consumer, min_idle_time=60_000,
                                                start_id="0-0", count=count)
        entries = list(reclaimed[1]) if reclaimed and len(reclaimed) > 1 else []
        if not entries:
            result = await self.redis.xreadgroup(group, consumer, {key: ">"}, count=count, block=block_ms)
            for _stream, items in result or []:
                entries.extend(items)
        return [(str(i), dict(f)) for i, f in entries if f]

    async def ack(self, group: str, entry_id: str, stream: str | None = None) -> None:
        await self.redis.xack(stream or self.events_key, group, entry_id)

    async def push_dead_letter(self, entry_id: str, url: str, fields: dict[str, str]) -> None:
        await self.redis.rpush(self._k("webhooks", "failed"), json.dumps({"id": entry_id, "url": url, **fields}))
        await self.redis.ltrim(self._k("webhooks", "failed"), -1000, -1)

    async def conversation_refs(self, conversations: list[str]) -> dict[str, str]:
        """The ticket each conversation became (those that became one)."""
        if not conversations:
            return {}
        refs = await self.redis.mget([self._k("conv", c) for c in conversations])
        return {c: str(r) for c, r in zip(conversations, refs) if r}

    async def events(self, count: int = 1000) -> list[dict[str, Any]]:
        raw = await self.redis.xrevrange(self.events_key, count=count)
        out = []
        for entry_id, f in raw:
            item: dict[str, Any] = {"id": entry_id, "type": f.get("type"), "ref": f.get("ref"),
                                    "at": float(f.get("at", 0))}
            item.update(json.loads(f.get("data", "{}")))
            out.append(item)
        return out


ITEM_LISTS = {"reply": "replies", "note": "notes", "rated": "ratings"}  # where an event's item is kept
_SET_BY_CREATE_SCRIPT = ("reference", "contacts_7d", "possible_duplicate_of", "negative_ratings")
STATS = ("created_by_category", "created_by_queue", "handoff_by_tag", "handoff_by_article", "issues",
         "escalated_by_category", "escalated_to_queue", "escalations_by_agent", "escalated_by_tag",
         "escalated_by_article", "resolved_by_category", "reopened_by_category", "ratings", "breaches_by_queue")


def _stats(before: Ticket, after: Ticket, event: Event) -> list[tuple[str, str, int]]:
    """The counters an event moves: (key suffix, field, increment). The claim script counts claims."""
    kind = event.kind
    out: list[tuple[str, str, int]] = []
    if kind == "created":
        out += [("stats:created_by_category", after.category, 1), ("stats:created_by_queue", after.queue, 1)]
        out += [("stats:handoff_by_tag", tag.lower(), 1) for tag in after.tags]
        out += [("stats:handoff_by_article", a["id"], 1) for a in after.articles_shown if a.get("feedback") != "helped"]
        if after.error_code or after.product:
            out.append(("stats:issues", f"{after.category}|{after.error_code or after.product}", 1))
    elif kind == "escalated":
        out += [("stats:escalated_by_category", after.category, 1), ("stats:escalated_to_queue", after.queue, 1),
                ("stats:escalations_by_agent", event.by, 1)]
        out += [("stats:escalated_by_tag", tag.lower(), 1) for tag in after.tags]
        out += [("stats:escalated_by_article", a["id"], 1) for a in after.articles_shown]
    elif kind == "resolved":
        out += [(f"agent:{event.by}", "resolved", 1), ("stats:resolved_by_category", after.category, 1)]
    elif kind == "reopened":
        out.append(("stats:reopened_by_category", after.category, 1))
    elif kind == "rated" and after.rating is not None:
        out.append(("stats:ratings", str(after.rating), 1))
        if after.agent:
            out += [(f"agent:{after.agent}", "rating_sum", after.rating), (f"agent:{after.agent}", "rating_count", 1)]
    elif kind == "reply":
        out.append((f"agent:{event.by}", "replies", 1))
    elif kind == "sla_breached":
        out.append(("stats:breaches_by_queue", after.queue, 1))
    return out


def _history_entry(event: Event, now: float) -> str:
    """{"at": now, "by": ..., "action": ..., "reason": ...} as JSON (the tail is the same for every claim
    of one agent from one queue, so it is kept)."""
    return f'{{"at":{now!r},{_entry_tail(event.by, event.kind, event.reason)}'


@functools.lru_cache(maxsize=4096)
def _entry_tail(by: str, kind: str, reason: str) -> str:
    return fast_dumps({"by": by, "action": kind, "reason": reason}, ensure_ascii=False)[1:]


@functools.lru_cache(maxsize=4096)
def _claim_texts(agent: str, queue: str) -> tuple[Event, str]:
    event = claim_event(agent, queue)
    return event, _event_data(event)


def _event_data(event: Event) -> str:
    return fast_dumps({"by": event.by, "reason": event.reason, **event.data}, ensure_ascii=False)


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = fast_loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _first_at(entries: list[tuple[str, dict[str, str]]]) -> float | None:
    if not entries:
        return None
    try:
        return float(entries[0][1].get("at") or 0.0)
    except ValueError:
        return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

