"""Lock stores: Rasa's Redis lock store made safe for several Rasa servers sharing one Redis, and the
in-process one for a single Rasa server.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket lock as one JSON value and changes it by
reading it, changing it in Python and writing it back (``issue_ticket``, ``finish_serving``,
``update_lock``, ``cleanup``). Inside one process that is atomic (no ``await`` between the read and the
write); across processes it is not: two Rasa servers that take a message of the same conversation at the
same moment both read the lock, both issue ticket 0 and both process the conversation at once (one
tracker save overwrites the other: a message is lost, or its answer lands in the wrong turn), and a
``cleanup`` that deletes the lock between another server's read and write throws that server's ticket
away (it then fails with ``LockError``).

``AtomicRedisLockStore`` does each of these changes in one Lua script, on the same JSON value (so
``get_lock`` and Rasa's waiting loop are unchanged), and gives the key an expiry after its last ticket so
a server killed while holding a lock leaves nothing behind for longer than the lock lifetime
(``TICKET_LOCK_LIFETIME``, Rasa's default 60 s). Configure it in the endpoints file::

    lock_store:
      type: rasa_ext.lock_store.AtomicRedisLockStore
      url: ...   # the same keys as Rasa's `type: redis`

``LocalLockStore`` is what ``frontdoor up`` (one Rasa server) uses: Rasa's in-memory lock store, which
needs no Redis round trip (Rasa's Redis lock store made about seven blocking ones per message, 6 % of the
server's samples under load, during which no other conversation moved), and asks every ``POLL_SECONDS``
like the atomic one. Its locks live and die with the process, which is all one server needs: a restarted
server has no message in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

# Tickets are JSON strings {"number": n, "expires": t} inside {"conversation_id": ..., "tickets": [...]},
# exactly what rasa.core.lock.TicketLock.dumps() writes. ARGV[1] is the caller's clock (Rasa compares
# expiry times with time.time() of its own process; all of them must agree within a second or so).
_LIVE_TICKETS = """
local function live_tickets(raw, now)
  local kept = {}
  if not raw then return kept end
  local lock = cjson.decode(raw)
  if type(lock.tickets) ~= 'table' then return kept end
  for _, t in ipairs(lock.tickets) do
    if tonumber(cjson.decode(t).expires) >= now then table.insert(kept, t) end
  end
  return kept
end
local function store(key, conversation_id, tickets)
  if #tickets == 0 then redis.call('DEL', key); return end
  local last = 0
  for _, t in ipairs(tickets) do
    local expires = tonumber(cjson.decode(t).expires)
    if expires > last then last = expires end
  end
  redis.call('SET', key, cjson.encode({conversation_id = conversation_id, tickets = tickets}))
  redis.call('PEXPIREAT', key, string.format('%d', math.ceil((last + 1) * 1000)))
end
"""

# KEYS[1] lock key; ARGV: now, conversation id, lifetime -> the new ticket's number
_ISSUE_LUA = _LIVE_TICKETS + """
local now = tonumber(ARGV[1])
local tickets = live_tickets(redis.call('GET', KEYS[1]), now)
local number = 0
if #tickets > 0 then number = tonumber(cjson.decode(tickets[#tickets]).number) + 1 end
table.insert(tickets, cjson.encode({number = number, expires = now + tonumber(ARGV[3])}))
store(KEYS[1], ARGV[2], tickets)
return number
"""

# KEYS[1] lock key; ARGV: now, conversation id, ticket number to remove ('' = none) -> tickets left
_SETTLE_LUA = _LIVE_TICKETS + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local tickets = live_tickets(raw, tonumber(ARGV[1]))
if ARGV[3] ~= '' then
  local number = tonumber(ARGV[3])
  for i, t in ipairs(tickets) do
    if tonumber(cjson.decode(t).number) == number then table.remove(tickets, i); break end
  end
end
store(KEYS[1], ARGV[2], tickets)
return #tickets
"""


# KEYS[1] lock key; ARGV: now, conversation id, ticket number, lifetime -> 1 its turn, 0 wait, -1 ticket gone.
# A waiting ticket is renewed (its server is alive: it is asking), so only a dead server's ticket expires;
# the ticket whose turn it is gets a whole lifetime from now for its work.
_TURN_LUA = _LIVE_TICKETS + """
local now = tonumber(ARGV[1])
local number = tonumber(ARGV[3])
local tickets = live_tickets(redis.call('GET', KEYS[1]), now)
local mine
for i, t in ipairs(tickets) do
  if tonumber(cjson.decode(t).number) == number then
    mine = i
    tickets[i] = cjson.encode({number = number, expires = now + tonumber(ARGV[4])})
  end
end
store(KEYS[1], ARGV[2], tickets)
if not mine then return -1 end
if mine == 1 then return 1 end
return 0
"""


POLL_SECONDS = 0.05  # a message queued behind another of its conversation asks this often (Rasa: 1 s)


class LocalLockStore(InMemoryLockStore):
    """One Rasa server's locks, in its memory; a queued message asks every ``POLL_SECONDS``. The endpoint's
    Redis settings are accepted and unused (the cluster's endpoints swap in ``AtomicRedisLockStore``)."""

    POLL_SECONDS = POLL_SECONDS

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **_kwargs: Any) -> None:
        super().__init__()

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        async with super().lock(conversation_id, lock_lifetime,
                                min(wait_time_in_seconds, self.POLL_SECONDS)) as lock:
            yield lock


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose every read-modify-write of a lock is one atomic Lua script."""

    POLL_SECONDS = POLL_SECONDS

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa creates a lock store named by its module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._issue = self.red.register_script(_ISSUE_LUA)
        self._settle = self.red.register_script(_SETTLE_LUA)
        self._turn = self.red.register_script(_TURN_LUA)

    def _key(self, conversation_id: Text) -> str:
        return str(self.key_prefix) + conversation_id

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            number = self._issue(keys=[self._key(conversation_id)],
                                 args=[repr(time.time()), conversation_id, repr(float(lock_lifetime))])
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc
        return int(number)

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ``lock`` with two differences: a waiting ticket stays alive while its server waits, and
        the ticket whose turn it is gets the whole lifetime from then on (Rasa counts both from the
        moment the ticket was issued: a message that waited longer than the lifetime behind a killed
        server's ticket expired with it and failed with LockError, and one that waited almost as long had
        only the rest of it before the next message could start). It asks every ``POLL_SECONDS`` (Rasa: 1 s,
        a second of latency per message queued behind another)."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            yield await self._wait_for_turn(conversation_id, ticket, lock_lifetime,
                                            min(wait_time_in_seconds, self.POLL_SECONDS))
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_for_turn(self, conversation_id: Text, ticket: int, lifetime: float, poll: float) -> TicketLock:
        while True:
            turn = int(self._turn(keys=[self._key(conversation_id)],
                                  args=[repr(time.time()), conversation_id, str(ticket), repr(float(lifetime))]))
            if turn < 0:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if turn:
                return self.get_lock(conversation_id) or self.create_lock(conversation_id)
            await asyncio.sleep(poll)

    def _settle_lock(self, conversation_id: Text, ticket_number: Optional[int]) -> int:
        left = self._settle(keys=[self._key(conversation_id)],
                            args=[repr(time.time()), conversation_id,
                                  "" if ticket_number is None else str(ticket_number)])
        return int(left)

    def update_lock(self, conversation_id: Text) -> None:
        """Drop expired tickets (a lock left with none is deleted, so a waiter stops waiting)."""
        self._settle_lock(conversation_id, None)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._settle_lock(conversation_id, ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove this ticket; the lock goes when no ticket is left (in the same script, so a ticket
        issued meanwhile by another server is never deleted with it)."""
        left = self._settle_lock(conversation_id, ticket_number)
        if not left:
            self._log_deletion(conversation_id, True)
