"""All Redis code of the handoff service. Every key is built here, under a configurable prefix.

Layout (``P`` = prefix):
  P ticket:{ref}            hash: ``doc`` (JSON, the static record, no state field or list in it) + scalar
                            state fields
  P ticket:{ref}:history    list of JSON entries (append-only: who, when, what, why)
  P ticket:{ref}:replies    list of JSON agent replies;  P ticket:{ref}:notes  internal notes
  P seq:ticket              counter behind T-000123;     P secret:{secret} -> ref;  P conv:{id} -> ref
  P customer:{key}:open:{category} -> ref of the open ticket;  P customer:{key}:tickets zset
  P customer:{key}:contacts zset conversation -> time (repeated contact)
  P queue:{name}            zset of waiting refs, score = priority rank * 1e13 + deadline ms
  P open                    set of open refs (console);  P waits:{queue} recent claim waits (s)
  P sla:due                 zset of open refs, score = the next time the SLA watcher has work for it
                            (sla.next_check; kept by every write of a ticket, so a sweep reads only due ones)
  P ratelimit:tickets:{client}:{hour}  new tickets of one anonymous client in one hour (expires)
  P tokens                  hash sha256(token) -> {name, role};  P agent:{name} hash of counters
  P stats:{kind}            hashes of counters (analytics);  P events  stream;  P lock:{name}
The Lua scripts build keys from the prefix too (single Redis or Sentinel; Cluster would need hash tags).
"""

from __future__ import annotations

import asyncio
import hashlib
import json

from ujson import dumps as fast_dumps  # the create hot path: same JSON, less CPU
from ujson import loads as fast_loads  # 2-3x the stdlib's speed on ticket documents (claim hot path)
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import NoScriptError, ResponseError, WatchError  # type: ignore[import-untyped, unused-ignore]

from bot.contract import OPEN_STATUSES, CreateTicketRequest
from handoff.errors import Conflict, StoreUnavailable, TicketNotFound
from handoff.sla import next_check
from handoff.tickets import HIDDEN_FROM_AGENTS, agent_view, customer_keys

FLOAT_FIELDS = (
    "created_at", "updated_at", "enqueued_at", "tier_entered_at", "claimed_at", "first_response_at",
    "first_response_due", "resolution_due", "tier_due", "resolved_at", "warn_at",
)
INT_FIELDS = ("tier", "version", "rating", "warned", "breached", "reopened", "contacts_7d", "customer_verified")
JSON_FIELDS = ("priority_reasons",)
STATE_FIELDS = FLOAT_FIELDS + INT_FIELDS + (
    "reference", "secret_reference", "status", "queue", "priority", "agent", "resolution", "routing_rule",
) + JSON_FIELDS
LIST_NAMES = ("history", "replies", "notes")


def _lua_table(entries: Iterable[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{name} = '{value}'" for name, value in entries) + "}"

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
local v = spec.variants[1]
if contacts >= spec.repeat_threshold then v = spec.variants[2] end
local n = redis.call('INCR', p .. 'seq:ticket')
local ref = string.format('T-%06d', n)
local tk = p .. 'ticket:' .. ref
redis.call('SET', conv, ref)
redis.call('SET', p .. 'secret:' .. spec.secret, ref)
local flat = {'doc', ARGV[2], 'reference', ref, 'secret_reference', spec.secret, 'contacts_7d', tostring(contacts),
              'customer_verified', spec.verified and '1' or '0'}
if related then table.insert(flat, 'possible_duplicate_of'); table.insert(flat, related) end
for k, val in pairs(v.fields) do table.insert(flat, k); table.insert(flat, val) end
redis.call('HSET', tk, unpack(flat))
redis.call('ZADD', p .. 'queue:' .. spec.queue, v.score, ref)
redis.call('SADD', p .. 'open', ref)
if v.sla_next ~= '' then redis.call('ZADD', p .. 'sla:due', v.sla_next, ref) end
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

_EXTEND_IF_EQUAL_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_DELETE_IF_EQUAL_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The claimed ticket as agents see it, written as JSON text by the claim script itself (cheaper for the
# service than decoding the record and encoding it again): the stored JSON (doc, JSON fields, list items,
# all written by this module) is copied as it is, the doc's closing brace is replaced by the number fields
# (their stored digits; a float field stored as an integer gets ".0"), the lists and the string fields (one
# cjson.encode). A JSON parser then reads exactly what decode_ticket + the lists give, types included
# (tests/handoff/test_handoff_claim_json.py). Written for Lua 5.1's costs: few calls, one concat.
# A value it cannot vouch for (not a plain JSON number, an integer too long for a double, a doc written
# before static_doc() that still holds created_at) makes it return nil, and Python decodes that ticket.
_AGENT_JSON_LUA = """
local KIND = {KINDS}
local find, sub, byte, concat = string.find, string.sub, string.byte, table.concat
local function json_float(s)
  if s == '' then return 'null' end
  if #s > 300 or find(s, '^-?0%d') then return nil end
  if find(s, '^-?%d+$') then return s .. '.0' end
  if find(s, '^-?%d+%.%d+$') or find(s, '^-?%d+[eE][-+]?%d+$') or find(s, '^-?%d+%.%d+[eE][-+]?%d+$') then
    local n = tonumber(s)
    if n == n and n ~= math.huge and n ~= -math.huge then return s end
  end
  return nil
end
local function agent_json(flat, lists)
  local doc, strings, nstrings, parts, n = '{}', {}, 0, {''}, 1
  for i = 1, #flat, 2 do
    local k, v = flat[i], flat[i + 1]
    local kind = KIND[k]
    if kind == 'f' then
      if not (#v < 300 and find(v, '^-?[1-9]%d*%.%d+$')) then v = json_float(v) end
      if v == nil then return nil end
      n = n + 1; parts[n] = '"' .. k .. '":' .. v .. ','
    elseif kind == 'i' then
      if v ~= '0' and not (#v <= 15 and find(v, '^-?[1-9]%d*$')) then return nil end
      n = n + 1; parts[n] = '"' .. k .. '":' .. v .. ','
    elseif kind == 'j' then
      if v == '' then return nil end
      n = n + 1; parts[n] = '"' .. k .. '":' .. v .. ','
    elseif k == 'doc' then doc = v
    elseif kind ~= 'hidden' then strings[k] = v; nstrings = nstrings + 1 end
  end
  parts[n + 1] = '"history":['; parts[n + 2] = concat(lists.history, ','); parts[n + 3] = '],"replies":['
  parts[n + 4] = concat(lists.replies, ','); parts[n + 5] = '],"notes":['; parts[n + 6] = concat(lists.notes, ',')
  parts[n + 7] = ']'; n = n + 7
  if nstrings > 0 then parts[n + 1] = ','; parts[n + 2] = sub(cjson.encode(strings), 2, -2); n = n + 2 end
  parts[n + 1] = '}'
  if byte(doc, 1) ~= 123 or byte(doc, -1) ~= 125 or find(doc, '"created_at"', 1, true) then return nil end
  if find(doc, '^{%s*}$') then parts[1] = '{' else parts[1] = sub(doc, 1, -2) .. ',' end
  return concat(parts)
end
"""
_AGENT_JSON_LUA = _AGENT_JSON_LUA.replace("{KINDS}", _lua_table(
    [(n, "f") for n in FLOAT_FIELDS] + [(n, "i") for n in INT_FIELDS] + [(n, "j") for n in JSON_FIELDS]
    + [(n, "hidden") for n in HIDDEN_FROM_AGENTS]
))

_CLAIM_LUA = _AGENT_JSON_LUA + """
local p = ARGV[1]
local best, bestscore, bestq
for i = 5, #ARGV do
  local q = ARGV[i]
  local r = redis.call('ZRANGE', p .. 'queue:' .. q, 0, 0, 'WITHSCORES')
  if r[1] then
    local sc = tonumber(r[2])
    if best == nil or sc < bestscore then best = r[1]; bestscore = sc; bestq = q end
  end
end
if best == nil then return false end
redis.call('ZREM', p .. 'queue:' .. bestq, best)
local tk = p .. 'ticket:' .. best
local now = ARGV[3]
local enq = tonumber(redis.call('HGET', tk, 'enqueued_at') or now)
redis.call('HSET', tk, 'status', 'claimed', 'agent', ARGV[2], 'claimed_at', now, 'updated_at', now)
redis.call('HINCRBY', tk, 'version', 1)
redis.call('RPUSH', tk .. ':history', cjson.encode({at = tonumber(now), by = ARGV[2], action = 'claimed',
  reason = 'claimed from queue ' .. bestq}))
redis.call('LPUSH', p .. 'waits:' .. bestq, tostring(tonumber(now) - enq))
redis.call('LTRIM', p .. 'waits:' .. bestq, 0, 49)
redis.call('HINCRBY', p .. 'agent:' .. ARGV[2], 'claimed', 1)
redis.call('XADD', p .. 'events', 'MAXLEN', '~', ARGV[4], '*', 'type', 'claimed', 'ref', best, 'at', now,
  'data', cjson.encode({agent = ARGV[2], queue = bestq}))
local flat = redis.call('HGETALL', tk)
local lists = {history = redis.call('LRANGE', tk .. ':history', 0, -1),
  replies = redis.call('LRANGE', tk .. ':replies', 0, -1), notes = redis.call('LRANGE', tk .. ':notes', 0, -1)}
local view = agent_json(flat, lists)
if view then return best .. ' ' .. view end
local fields = {}
for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
return {best, cjson.encode({fields = fields, history = lists.history, replies = lists.replies, notes = lists.notes})}
"""


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


@dataclass
class Change:
    """One atomic change of a ticket, applied by ``Store.mutate``."""

    action: str  # history/event type: claimed, note, reply, escalated, resolved, reopened, released, ...
    by: str
    reason: str = ""
    fields: dict[str, str | int | float] = field(default_factory=dict)
    doc: dict[str, Any] | None = None
    queue_remove: str | None = None
    queue_add: tuple[str, float] | None = None
    close_open_keys: bool = False  # ticket no longer open: drop it from customer open keys and P open
    reopen_keys: bool = False
    push: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (list name, JSON item)
    counters: list[tuple[str, str, int]] = field(default_factory=list)  # (key suffix, field, increment)
    event_data: dict[str, Any] = field(default_factory=dict)


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


class Store:
    def __init__(self, redis: Redis, prefix: str = "fd:", *, events_maxlen: int = 100_000,
                 replica_acks: int = 0, replica_ack_timeout_ms: int = 1000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.events_maxlen = events_maxlen
        self.replica_acks = replica_acks
        self.replica_ack_timeout_ms = replica_ack_timeout_ms
        self._create = redis.register_script(_CREATE_LUA)
        self._claim = ScriptBatcher(redis, _CLAIM_LUA)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def events_key(self) -> str:
        return self._k("events")

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

    async def create(self, spec: dict[str, Any], doc: dict[str, Any]) -> CreateResult:
        """One round trip: idempotency by conversation, repeated-contact count, attach detection and the
        new ticket (see _CREATE_LUA). ``spec["variants"]`` = [normal, repeated contact] field sets."""
        spec = {"prefix": self.prefix, "maxlen": str(self.events_maxlen), **spec}
        args = [fast_dumps(spec), fast_dumps(static_doc(doc))]
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

    async def ticket(self, ref: str, *, with_lists: bool = True) -> dict[str, Any]:
        key = self._k("ticket", ref)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(key)
        if with_lists:
            for name in LIST_NAMES:
                pipe.lrange(f"{key}:{name}", 0, -1)
        results = await pipe.execute()
        if not results[0]:
            raise TicketNotFound(f"ticket {ref} does not exist")
        ticket = decode_ticket(results[0])
        if with_lists:
            for name, raw in zip(LIST_NAMES, results[1:]):
                ticket[name] = [json.loads(item) for item in raw]
        return ticket

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
                    at = next_check(decode_ticket(raw), OPEN_STATUSES) if raw else None
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
                    at = next_check(decode_ticket(state), OPEN_STATUSES) if state else None
                    if at is not None:
                        due[ref] = at
                if due:
                    added += int(await self.redis.zadd(self._k("sla", "due"), due, nx=True))
            if int(cursor) == 0:
                break
        await self.redis.set(marker, "1")
        return added

    async def tickets_state(self, refs: list[str]) -> list[dict[str, Any]]:
        return [decode_ticket(raw) for raw in await self.tickets_state_raw(refs) if raw]

    async def tickets_state_raw(self, refs: list[str]) -> list[dict[str, str]]:
        """The stored state hashes of ``refs``, in order ({} for a ticket that does not exist)."""
        pipe = self.redis.pipeline(transaction=False)
        for ref in refs:
            pipe.hgetall(self._k("ticket", ref))
        return cast(list[dict[str, str]], await pipe.execute())

    # -- change ---------------------------------------------------------------------------------------

    async def claim_next(self, queues: list[str], agent: str, now: float) -> ClaimedTicket | None:
        """Atomically take the best waiting ticket of ``queues`` (one script, sent in a pipeline with the
        concurrent claims of this process); None when all are empty. The script answers "<reference> <the
        agents' JSON of the ticket>" (see _AGENT_JSON_LUA; one string is the cheapest reply to parse), or
        [reference, raw record] for a ticket Python has to decode."""
        result = await self._claim([self.prefix, agent, repr(now), self.events_maxlen, *queues])
        if not result:
            return None
        if isinstance(result, str):
            reference, _, text = result.partition(" ")
            return ClaimedTicket(reference, text)
        reference, text = result
        data = fast_loads(text)
        ticket = decode_ticket(data["fields"])
        for name in LIST_NAMES:
            raw = data[name]  # Lua's cjson encodes an empty list as {}
            ticket[name] = [fast_loads(item) for item in raw] if isinstance(raw, list) else []
        return ClaimedTicket(reference, fast_dumps(agent_view(ticket)), from_script=False)

    async def mutate(
        self, ref: str, decide: Callable[[dict[str, Any]], Change | None], now: float, retries: int = 50
    ) -> dict[str, Any]:
        """Read the ticket, let ``decide`` compute a Change (or raise, or return None for no-op), and
        apply it atomically (WATCH/MULTI, retried when another writer got there first)."""
        key = self._k("ticket", ref)
        for _ in range(retries):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.hgetall(key)
                    if not raw:
                        raise TicketNotFound(f"ticket {ref} does not exist")
                    ticket = decode_ticket(raw)
                    change = decide(ticket)
                    if change is None:
                        await pipe.unwatch()
                        return ticket
                    pipe.multi()
                    self._apply(pipe, ref, ticket, change, now)
                    await pipe.execute()
                except WatchError:
                    continue
            ticket.update(change.fields)
            if change.doc is not None:
                ticket.update(change.doc)
            ticket["version"] = int(ticket.get("version", 0)) + 1
            return ticket
        raise Conflict(f"ticket {ref} is changing too fast, try again")

    def _apply(self, pipe: Any, ref: str, ticket: dict[str, Any], change: Change, now: float) -> None:
        key = self._k("ticket", ref)
        fields: dict[str, Any] = {k: str(v) for k, v in change.fields.items()}
        fields["updated_at"] = repr(now)
        if change.doc is not None:
            fields["doc"] = json.dumps(static_doc(change.doc))
        pipe.hset(key, mapping=fields)
        pipe.hincrby(key, "version", 1)
        entry = {"at": now, "by": change.by, "action": change.action, "reason": change.reason}
        pipe.rpush(f"{key}:history", json.dumps(entry))
        for name, item in change.push:
            pipe.rpush(f"{key}:{name}", json.dumps(item))
        if change.queue_remove:
            pipe.zrem(self._k("queue", change.queue_remove), ref)
        if change.queue_add:
            pipe.zadd(self._k("queue", change.queue_add[0]), {ref: change.queue_add[1]})
        at = next_check({**ticket, **change.fields}, OPEN_STATUSES)  # the watcher's schedule follows every write
        if at is None:
            pipe.zrem(self._k("sla", "due"), ref)
        else:
            pipe.zadd(self._k("sla", "due"), {ref: at})
        category = ticket.get("category", "general")
        cks = customer_keys(cast(CreateTicketRequest, ticket))
        if change.close_open_keys:
            pipe.srem(self._k("open"), ref)
            for ck in cks:  # drop the customer's pointer only while it still points at this ticket
                pipe.eval(_DELETE_IF_EQUAL_LUA, 1, self._k("customer", ck, "open", category), ref)
        if change.reopen_keys:
            pipe.sadd(self._k("open"), ref)
            for ck in cks:  # a newer open ticket of the same customer and category keeps the pointer
                pipe.set(self._k("customer", ck, "open", category), ref, nx=True)
        for suffix, name, amount in change.counters:
            pipe.hincrby(self._k(suffix), name, amount)
        data = {"by": change.by, "reason": change.reason, **change.event_data}
        pipe.xadd(self.events_key, {"type": change.action, "ref": ref, "at": repr(now), "data": json.dumps(data)},
                  maxlen=self.events_maxlen, approximate=True)

    async def add_event(self, kind: str, ref: str, now: float, data: dict[str, Any]) -> None:
        await self.redis.xadd(self.events_key, {"type": kind, "ref": ref, "at": repr(now), "data": json.dumps(data)},
                              maxlen=self.events_maxlen, approximate=True)

    # -- stats, locks, events -------------------------------------------------------------------------

    async def counters(self, suffix: str) -> dict[str, int]:
        raw = await self.redis.hgetall(self._k(suffix))
        return {k: int(v) for k, v in raw.items()}

    async def acquire_lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(self._k("lock", name), owner, nx=True, px=ttl_ms))

    async def extend_lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Keep a lock this owner still holds for another ``ttl_ms``; False when it has lost it."""
        return bool(await self.redis.eval(_EXTEND_IF_EQUAL_LUA, 1, self._k("lock", name), owner, ttl_ms))

    async def release_lock(self, name: str, owner: str) -> None:
        key = self._k("lock", name)
        if await self.redis.get(key) == owner:
            await self.redis.delete(key)

    async def ensure_group(self, group: str) -> None:
        try:
            await self.redis.xgroup_create(self.events_key, group, id="$", mkstream=True)
        except Exception as exc:  # BUSYGROUP: the group exists already
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_group(self, group: str, consumer: str, count: int, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        reclaimed = await self.redis.xautoclaim(self.events_key, group, consumer, min_idle_time=60_000,
                                                start_id="0-0", count=count)
        entries = list(reclaimed[1]) if reclaimed and len(reclaimed) > 1 else []
        if not entries:
            result = await self.redis.xreadgroup(group, consumer, {self.events_key: ">"}, count=count,
                                                 block=block_ms)
            for _stream, items in result or []:
                entries.extend(items)
        return [(str(i), dict(f)) for i, f in entries if f]

    async def ack(self, group: str, entry_id: str) -> None:
        await self.redis.xack(self.events_key, group, entry_id)

    async def push_dead_letter(self, entry_id: str, url: str, fields: dict[str, str]) -> None:
        await self.redis.rpush(self._k("webhooks", "failed"), json.dumps({"id": entry_id, "url": url, **fields}))
        await self.redis.ltrim(self._k("webhooks", "failed"), -1000, -1)

    async def events(self, count: int = 1000) -> list[dict[str, Any]]:
        raw = await self.redis.xrevrange(self.events_key, count=count)
        out = []
        for entry_id, f in raw:
            item: dict[str, Any] = {"id": entry_id, "type": f.get("type"), "ref": f.get("ref"),
                                    "at": float(f.get("at", 0))}
            item.update(json.loads(f.get("data", "{}")))
            out.append(item)
        return out


def decode_ticket(raw: dict[str, str]) -> dict[str, Any]:
    doc = dict(raw)
    ticket: dict[str, Any] = fast_loads(doc.pop("doc", "{}"))
    for name, value in doc.items():
        if name in FLOAT_FIELDS:
            ticket[name] = float(value) if value != "" else None
        elif name in INT_FIELDS:
            ticket[name] = int(float(value))
        elif name in JSON_FIELDS:
            ticket[name] = fast_loads(value)
        else:
            ticket[name] = value
    return ticket


def static_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """The part of a ticket stored as ``doc``: the state fields (``created_at`` too) and the lists are
    stored on their own and never repeated in it (the claim script relies on this)."""
    return {k: v for k, v in doc.items() if k not in STATE_FIELDS and k not in LIST_NAMES}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

