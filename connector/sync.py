"""The connector's work, both ways, around the pure mapping (``connector.mapping``):

- **ours -> RT**: the handoff service's event stream, read as a consumer group. ``created`` becomes an RT
  ticket (at most one: before creating, RT is searched for a ticket with our reference in its custom field,
  so a crash between RT's create and storing the mapping finds it); a customer's chat message becomes an RT
  comment; a resolve or escalation made in our console sets RT's status or queue. An entry is acknowledged
  only once its work is done. When RT (or the handoff service) fails, the entry is parked behind the
  reference's other parked entries (their order is kept) and retried with backoff; an entry RT refuses
  for good is set aside with the reason. Nothing blocks the rest.
- **RT -> ours**: RT's new transactions (one search per poll, from a cursor): an agent's correspondence
  reaches the customer's chat, a resolve resolves our ticket (the bot asks for a rating), a queue change is
  an escalation; each through the handoff service's API with the transaction id as idempotency key, so a
  retried transaction is applied once. The connector's own transactions are skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError  # type: ignore[import-untyped, unused-ignore]

from connector import mapping
from connector.errors import Busy, ConfigError, Rejected, Transient
from connector.handoff_api import HandoffAPI
from connector.mapping import QueueMap, Txn
from connector.rt import RTClient
from connector.settings import Settings
from connector.state import State

logger = logging.getLogger(__name__)

MIRRORED_EVENTS = ("created", "customer_message", "resolved", "escalated", "reopened", "sla_warning", "risk_raised")
LOOKBACK = 50  # transaction ids below the cursor searched again (a transaction committed late)
BATCH = 50


def backoff(attempt: int, cap: float) -> float:
    """1, 2, 4 ... ``cap`` seconds."""
    return float(min(cap, 2 ** max(0, attempt)))


class Connector:
    def __init__(self, settings: Settings, state: State, rt: RTClient, handoff: HandoffAPI, qmap: QueueMap,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.state = state
        self.rt = rt
        self.handoff = handoff
        self.qmap = qmap
        self.clock = clock
        self.own_user = settings.rt_user
        self.rt_queue_names: dict[str, str] = {}  # RT queue id -> name
        self.rt_ready = asyncio.Event()  # set once RT was checked against the mapping file
        self.rt_down = False  # the last call to RT failed: new entries are parked without trying
        self.last_error = ""
        self.instance = secrets.token_hex(6)  # this process (its locks are told from a killed predecessor's)

    # -- start -----------------------------------------------------------------------------------------

    async def check_rt(self) -> None:
        """RT against the mapping file: each mapped queue exists and has the custom fields; learns the
        connector's own RT user. ConfigError when RT's configuration does not fit, Transient when RT is
        unreachable."""
        try:
            version = await self.rt.version()
            for rt_queue in sorted(set(self.qmap.queues.values())):
                mapping.check_rt_queue(self.qmap, rt_queue, await self.rt.queue(rt_queue))
            self.rt_queue_names = await self.rt.queue_names()
            if not self.own_user:
                match = re.match(r"^\d+-(\d+)-", self.settings.rt_token)
                if not match:
                    raise ConfigError("RT_USER is not set and RT_TOKEN is not an RT auth token (1-<user id>-...): "
                                      "set RT_USER to the connector's RT user name")
                self.own_user = await self.rt.user_name(match.group(1))
        except Rejected as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"RT refused the connector's token (RT_TOKEN): {exc}") from None
            raise ConfigError(str(exc)) from None
        logger.info("RT %s at %s: %d queue(s) mapped from %s, connector user %s", version, self.settings.rt_url,
                    len(set(self.qmap.queues.values())), self.qmap.path, self.own_user)
        self.rt_ready.set()

    async def wait_for_rt(self) -> None:
        """``check_rt`` until RT answers (with backoff); a configuration that does not fit is raised."""
        attempt = 0
        while not self.rt_ready.is_set():
            try:
                await self.check_rt()
            except Transient as exc:
                self.last_error = str(exc)
                delay = backoff(attempt, self.settings.max_backoff)
                logger.warning("RT not reachable yet (%s); checking again in %.0f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)

    # -- ours -> RT --------------------------------------------------------------------------------------

    async def run_outbound(self) -> None:
        await self.rt_ready.wait()
        while True:
            try:
                entries = await self.state.read(self.settings.consumer, BATCH, 1000)
                by_ref: dict[str, list[tuple[str, dict[str, str]]]] = {}
                for entry_id, fields in entries:
                    by_ref.setdefault(fields.get("ref", ""), []).append((entry_id, fields))
                slots = asyncio.Semaphore(self.settings.concurrency)

                async def one_ref(items: list[tuple[str, dict[str, str]]]) -> None:
                    async with slots:
                        for entry_id, fields in items:  # one reference's entries in order
                            await self.handle_entry(entry_id, fields)

                await asyncio.gather(*(one_ref(items) for items in by_ref.values()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis unavailable: resume from the unacknowledged entries
                logger.warning("outbound paused: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def handle_entry(self, entry_id: str, fields: dict[str, str]) -> None:
        kind, ref = fields.get("type", ""), fields.get("ref", "")
        if kind not in MIRRORED_EVENTS or not ref:
            await self.state.ack(entry_id)
            return
        entry = {"id": entry_id, "type": kind, "ref": ref, "data": fields.get("data", "{}")}
        if self.rt_down or await self.state.is_parked(ref):
            await self.state.park(ref, entry, self.clock() + (1.0 if self.rt_down else 0.0), entry_id)
            return
        try:
            await self.mirror(entry)
        except Busy:
            await self.state.park(ref, entry, self.clock() + 2.0, entry_id)
        except Transient as exc:
            self._failed(exc)
            await self.state.park(ref, entry, self.clock() + 1.0, entry_id)
            await self.state.count("parked")
        except RedisError:
            raise  # the entry stays unacknowledged: read again once Redis answers
        except Exception as exc:  # refused for good (4xx), or a bug: set aside with the reason, not retried forever
            log = logger.error if isinstance(exc, (Rejected, ConfigError)) else logger.exception
            log("entry %s (%s of %s) set aside: %s", entry_id, kind, ref, exc)
            await self.state.set_aside(entry, f"{type(exc).__name__}: {exc}", entry_id=entry_id)
        else:
            self.rt_down = False
            await self.state.ack(entry_id)

    def _failed(self, exc: Exception) -> None:
        self.last_error = str(exc)
        if not self.rt_down:
            logger.warning("parking work: %s", exc)
        self.rt_down = True

    async def run_retries(self) -> None:
        """Parked references whose time has come, each from its oldest entry on; a failed round waits 1, 2,
        4 ... max_backoff seconds (RT or the handoff service is down: one probe, not a storm)."""
        await self.rt_ready.wait()
        failures = 0
        while True:
            try:
                refs = await self.state.due_parked(self.clock(), 200)
                slots = asyncio.Semaphore(self.settings.concurrency)
                failed = False

                async def drain(ref: str) -> None:
                    nonlocal failed
                    async with slots:
                        while not failed:
                            entry = await self.state.parked_head(ref)
                            if entry is None:
                                return
                            try:
                                await self.mirror(entry)
                            except Busy:
                                await self.state.reschedule(ref, self.clock() + 2.0)
                                return
                            except Transient as exc:
                                failed = True
                                self._failed(exc)
                                await self.state.reschedule(ref, self.clock() + backoff(failures + 1,
                                                                                         self.settings.max_backoff))
                                return
                            except RedisError:
                                raise
                            except Exception as exc:  # refused for good (4xx), or a bug
                                log = logger.error if isinstance(exc, (Rejected, ConfigError)) else logger.exception
                                log("parked %s of %s set aside: %s", entry["type"], ref, exc)
                                await self.state.set_aside(entry, f"{type(exc).__name__}: {exc}", parked_ref=ref)
                            else:
                                if await self.state.pop_parked(ref) == 0:
                                    return

                rest = refs
                if refs and self.rt_down:  # RT was down: one probe first, the rest once it went through
                    await drain(refs[0])
                    rest = refs[1:]
                if not failed:
                    self.rt_down = False
                    await asyncio.gather(*(drain(ref) for ref in rest))
                failures = failures + 1 if failed else 0
                await asyncio.sleep(backoff(failures - 1, self.settings.max_backoff) if failed
                                    else (0.05 if refs else 0.5))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("retries paused: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def mirror(self, entry: dict[str, Any]) -> None:
        """One event of ours into RT (idempotent: a repeated entry changes nothing more)."""
        kind, ref = entry["type"], entry["ref"]
        data = json.loads(entry.get("data") or "{}")
        if data.get("source") == "helpdesk":
            return  # it came from RT
        if kind == "created":
            await self.create(ref)
            return
        rt_id = await self.state.rt_id(ref)
        if rt_id is None:
            return  # not mirrored (created before the connector's first start, or set aside)
        if kind == "customer_message":
            ticket = await self.handoff.ticket(ref)
            seen = await self.state.seen(ref)
            turns = [t for t in ticket.get("transcript", [])
                     if t.get("sender") == "customer" and float(t.get("timestamp") or 0) > seen]
            if turns:
                await self.rt.comment(rt_id, mapping.customer_comment(turns))
                await self.state.set_seen(ref, max(float(t["timestamp"]) for t in turns))
            return
        change = mapping.rt_change(kind, data, self.qmap)
        if change:
            await self.rt.update_ticket(rt_id, change)

    async def create(self, ref: str) -> int:
        """The RT ticket of ``ref``: the one the mapping knows, else the one RT has with our reference, else a
        new one; stored in the mapping and on our ticket."""
        rt_id = await self.state.rt_id(ref)
        if rt_id is None:
            async with self.state.creating(ref, self.settings.consumer, self.instance):
                found = await self.rt.find_tickets(mapping.reference_query(self.qmap, ref))
                ticket = await self.handoff.ticket(ref)
                if found:
                    rt_id = found[0]
                    if len(found) > 1:
                        logger.error("RT has %d tickets for %s (%s): keeping %d", len(found), ref, found, rt_id)
                else:
                    rt_id = await self.rt.create_ticket(mapping.create_request(ticket, self.qmap))
                    logger.info("ticket %s mirrored as RT ticket %d", ref, rt_id)
                await self.state.remember(ref, rt_id, mapping.requestor(ticket), found=bool(found))
                await self.state.set_seen(ref, max([float(t.get("timestamp") or 0) for t in ticket.get("transcript", [])
                                                    if t.get("sender") == "customer"] or [0.0]))
        await self.handoff.link(ref, rt_id)
        return rt_id

    # -- RT -> ours --------------------------------------------------------------------------------------

    async def run_inbound(self) -> None:
        await self.rt_ready.wait()
        failures = 0
        while True:
            try:
                more = await self.poll_once()
                failures = 0
                if not more:
                    await asyncio.sleep(self.settings.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RT, the handoff service or Redis unavailable: the cursor stays
                failures += 1
                delay = backoff(failures - 1, self.settings.max_backoff)
                logger.warning("inbound paused %.0f s: %s: %s", delay, type(exc).__name__, exc)
                self.last_error = str(exc)
                await asyncio.sleep(delay)

    async def poll_once(self) -> bool:
        """Handle RT's transactions after the cursor; True when a full page came (there may be more)."""
        cursor = await self.state.cursor()
        if cursor is None:  # first start: from now on
            cursor = await self.rt.last_transaction_id()
            await self.state.set_cursor(cursor)
            logger.info("reading RT's transactions after %d", cursor)
        txns = await self.rt.transactions_after(max(0, cursor - LOOKBACK))
        for txn in txns:
            if await self.state.is_done(txn.id):
                continue
            ref = await self.state.ref_for(txn.ticket)
            if ref is not None:
                try:
                    await self.apply(ref, txn)
                except (Transient, RedisError):
                    raise  # the cursor stays: retried with backoff
                except Exception as exc:  # a bug: set aside with the reason, the rest goes on
                    logger.exception("RT transaction %d of %s set aside", txn.id, ref)
                    await self.state.set_aside({"rt_transaction": txn.id, "type": txn.type, "ref": ref},
                                               f"{type(exc).__name__}: {exc}")
            cursor = max(cursor, txn.id)
            await self.state.done(txn.id, cursor)
        return len(txns) >= 100

    async def apply(self, ref: str, txn: Txn) -> None:
        """One RT transaction of a mirrored ticket, through the handoff service (idempotent by its key)."""
        our_queue = ""
        if txn.type == "Set" and txn.field == "Queue":
            if txn.new_value not in self.rt_queue_names:
                self.rt_queue_names = await self.rt.queue_names()
            our_queue = str((await self.handoff.ticket(ref)).get("queue", ""))
        action = mapping.inbound(txn, own_user=self.own_user, requestor_email=await self.state.requestor(ref),
                                 our_queue=our_queue, rt_queue_names=self.rt_queue_names, qmap=self.qmap)
        if action is None:
            return
        body: dict[str, Any] = {"action": action.action, "key": action.key, "agent": await self.rt.real_name(action.agent)}
        if action.action == "reply":
            body["text"] = await self.rt.transaction_text(txn.id)
            if not body["text"]:
                return
        elif action.action == "escalate":
            body["to_queue"] = action.to_queue
            body["text"] = f"moved to RT queue {self.rt_queue_names.get(txn.new_value, txn.new_value)} in RT"
        else:
            body["text"] = "resolved in RT"
        try:
            result = await self.handoff.action(ref, body)
        except Rejected as exc:
            if exc.status in (404, 409):  # our ticket is gone, or its state does not allow it (already so)
                logger.info("RT transaction %d (%s of %s) not applied: %s", txn.id, action.action, ref, exc)
                return
            logger.error("RT transaction %d (%s of %s) set aside: %s", txn.id, action.action, ref, exc)
            await self.state.set_aside({"rt_transaction": txn.id, "type": action.action, "ref": ref}, str(exc))
            return
        if result.get("applied"):
            await self.state.count(f"applied_{action.action}")
            logger.info("RT transaction %d: %s of %s by %s", txn.id, action.action, ref, action.agent)

    # -- health -----------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return {"status": "ok", "rt": "down" if self.rt_down or not self.rt_ready.is_set() else "up",
                "mirrored": await self.state.mirrored(), "parked": await self.state.parked_count(),
                "lag": await self.state.lag(), "stats": await self.state.stats(),
                "last_error": self.last_error if self.rt_down or not self.rt_ready.is_set() else ""}
