"""Use cases of the handoff service: create, status, claim, reply, escalate, resolve, SLA sweep...
Chooses the pure transition (``handoff.transitions``) and lets the store apply it; adds the routing, the
promised times and the Rasa notifier; knows nothing of HTTP and names no Redis key."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.contract import OPEN_STATUSES, SECRET_PREFIX, WAITING_STATUSES, CreateTicketRequest, Estimate, TicketCreated, TicketStatusView
from bot.rasa_client import RasaNotifier
from handoff import gaps, reporting, risk, sla, transitions
from handoff.errors import InvalidTicket, RateLimited, TicketNotFound
from handoff.kbdraft import draft_issues, write_draft
from handoff.matrix_source import MatrixSource
from handoff.routing import route
from handoff.settings import Settings
from handoff.signals import Signal
from handoff.store import ClaimedTicket, Store
from handoff.tickets import Ticket, TicketLists, console_row, routing_facts, status_view, verified_customer_key
from handoff.transitions import SYSTEM, Event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HelpdeskAction:
    """A change an agent made in the helpdesk, as the connector reports it (``handoff.web`` validates it)."""

    action: str  # reply | resolve | escalate
    key: str  # idempotency key: the helpdesk's transaction id
    agent: str  # the helpdesk user who made it
    text: str  # the reply; the resolution; the escalation's reason
    to_queue: str = ""  # escalate: our queue the helpdesk's new queue maps to


REPEAT_WINDOW = 7 * 24 * 3600.0
REPEAT_THRESHOLD = 3  # conversations in the window from which a customer counts as a repeated contact
SLA_BATCH = 500  # due tickets read per round trip of a sweep
SLA_CONCURRENCY = 32  # due tickets checked at the same time (each change is its own atomic update)


def _from_helpdesk(result: transitions.Result) -> transitions.Result:
    """The event of a change made in the helpdesk says so (``source``): the connector does not mirror it
    back into the helpdesk."""
    ticket, event = result
    return ticket, replace(event, data={**event.data, "source": "helpdesk"})


def _minutes(seconds: float) -> int:
    return max(0, round(seconds / 60))


class TicketService:
    def __init__(self, store: Store, matrix: MatrixSource, settings: Settings, clock: Callable[[], float],
                 notifier: RasaNotifier) -> None:
        self.store = store
        self.matrix = matrix
        self.settings = settings
        self.clock = clock
        self.notifier = notifier

    # -- bot side -------------------------------------------------------------------------------------

    async def create(self, request: CreateTicketRequest) -> tuple[TicketCreated, bool]:
        now = self.clock()
        decision = route(self.matrix.matrix, routing_facts(request))
        hours = self.settings.business_hours
        secret = SECRET_PREFIX + secrets.token_urlsafe(24)
        normal, repeated = transitions.create(request, decision, secret=secret, now=now, hours=hours)
        verified = normal[0].customer_verified
        client = request.get("client") or ""
        limit = self.settings.tickets_per_client_hour if client and not verified else 0
        result = await self.store.create(normal, repeated, client=client, client_limit=limit,
                                         repeat_window=REPEAT_WINDOW, repeat_threshold=REPEAT_THRESHOLD, now=now)
        if result.outcome == "limited":
            raise RateLimited(f"this client has opened {limit} tickets in the last hour; the next one can be "
                              f"opened in {max(1, round((3600 - now % 3600) / 60))} min, or sooner by e-mail")
        if result.outcome == "created":
            ticket = (repeated if repeated and result.repeated_contact else normal)[0]
            logger.info("ticket %s created in %s (%s, rule %s)", result.reference, ticket.queue, ticket.priority,
                        decision.rule)
            return await self._created(ticket, result.reference, True, now), True
        if result.outcome == "attach":
            ticket = await self._attach(result.reference, request, now)
            return await self._created(ticket, ticket.reference, False, now), False
        return await self._created(await self.store.ticket(result.reference), result.reference, False, now), False

    async def estimate(self, request: CreateTicketRequest) -> Estimate:
        """Queue, priority and promised first response of this request if it became a ticket now (the
        same routing, priority and SLA as ``create``; nothing is stored)."""
        now = self.clock()
        decision = route(self.matrix.matrix, routing_facts(request))
        (ticket, _), _ = transitions.create(request, decision, secret="", now=now, hours=self.settings.business_hours)
        position = await self.store.queue_length(decision.queue) + 1
        at = await self._promise(ticket, position, now)
        return Estimate(queue=decision.queue, tier=decision.tier, priority=ticket.priority,  # type: ignore[typeddict-item]
                        expected_first_response_minutes=_minutes(at - now), expected_first_response_at=at)

    async def _promise(self, ticket: Ticket, position: int, now: float) -> float:
        waits = await self.store.recent_waits(ticket.queue)
        return sla.expected_first_response(now, ticket.first_response_due, ticket.priority, position, waits,
                                           self.settings.default_wait_minutes, self.settings.business_hours)

    async def _attach(self, ref: str, request: CreateTicketRequest, now: float) -> Ticket:
        winner = await self.store.link_conversation(request["conversation_id"], ref)
        if winner != ref:  # a concurrent retry of this conversation got there first
            return await self.store.ticket(winner)
        logger.info("conversation attached to open ticket %s", ref)
        return await self.store.mutate(ref, lambda t: transitions.attach(t, request, now), now)

    async def _created(self, ticket: Ticket, reference: str, created: bool, now: float) -> TicketCreated:
        position = None
        at = ticket.first_response_due
        if ticket.status in WAITING_STATUSES:
            position = await self.store.queue_position(ticket.queue, reference)
            if position is not None:
                at = await self._promise(ticket, position, now)
        return TicketCreated(
            reference=reference, secret_reference=ticket.secret_reference, queue=ticket.queue, tier=ticket.tier,
            priority=ticket.priority, status=ticket.status,  # type: ignore[typeddict-item]
            first_response_due=ticket.first_response_due, expected_first_response_minutes=_minutes(at - now),
            expected_first_response_at=at, queue_position=position, created=created,
        )

    async def status_by_secret(self, secret: str) -> TicketStatusView:
        return await self.status_view(await self.store.ref_for_secret(secret))

    async def status_by_conversation(self, conversation_id: str) -> TicketStatusView:
        return await self.status_view(await self._conversation_ref(conversation_id))

    async def _conversation_ref(self, conversation_id: str) -> str:
        ref = await self.store.conversation_ref(conversation_id)
        if ref is None:
            raise TicketNotFound(f"no ticket for conversation {conversation_id}")
        return ref

    async def status_view(self, ref: str) -> TicketStatusView:
        ticket, lists = await self.store.ticket_with_lists(ref)
        position = wait = at = None
        if ticket.status in WAITING_STATUSES:
            position = await self.store.queue_position(ticket.queue, ref)
            if position is not None and not lists.replies:
                now = self.clock()
                at = await self._promise(ticket, position, now)
                wait = _minutes(at - now)
        return status_view(ticket, lists, position, wait, at)

    async def customer_message(self, conversation_id: str, text: str, timestamp: float | None) -> dict[str, Any]:
        """A message the customer wrote while an agent owns the conversation (relayed by the bot)."""
        ref = await self._conversation_ref(conversation_id)
        now = self.clock()
        at = timestamp if timestamp is not None else now
        ticket = await self.store.mutate(ref, lambda t: transitions.customer_message(t, conversation_id, text, at),
                                         now)
        return {"reference": ref, "status": ticket.status}

    async def list_tickets(self, *, agent: str | None, queue: str | None, status: str | None,
                           sort: str = "priority") -> list[dict[str, Any]]:
        """Open tickets (for the agents' console), optionally only one agent's, one queue's or one status,
        each with its escalation risk; most urgent first (``sort="risk"``: highest risk first)."""
        now, hours = self.clock(), self.settings.business_hours
        rows = []
        for t in await self.store.tickets(await self.store.open_refs()):
            if t is None or (agent and t.agent != agent) or (queue and t.queue != queue) or (status and t.status != status):
                continue
            row = console_row(t)
            row["risk"] = risk.assess(t, now, hours).as_json()
            rows.append(row)
        if sort == "risk":
            return sorted(rows, key=lambda r: (-int(r["risk"]["score"]), str(r["priority"]),
                                               float(r["first_response_due"] or 0)))
        return sorted(rows, key=lambda r: (str(r["priority"]), float(r["first_response_due"] or 0)))

    async def customer_tickets(self, customer_id: str) -> list[TicketStatusView]:
        refs = await self.store.customer_refs(verified_customer_key(customer_id))
        return [await self.status_view(ref) for ref in refs]

    async def record_signals(self, signals: list[Signal]) -> int:
        """The bot's conversation signals (validated and masked: ``handoff.signals.parse_signals``)."""
        return await self.store.append_signals(signals, self.clock())

    async def rate(self, ref: str, rating: int, comment: str) -> dict[str, Any]:
        now = self.clock()
        ticket = await self.store.mutate(ref, lambda t: transitions.rate(t, rating, comment, now), now)
        return {"reference": ref, "rating": rating, "status": ticket.status}

    # -- agent side -----------------------------------------------------------------------------------

    def _check_queues(self, queues: list[str]) -> list[str]:
        known = self.matrix.matrix.queues
        unknown = [q for q in queues if q not in known]
        if unknown:
            raise InvalidTicket(f"unknown queue(s): {', '.join(unknown)}")
        return queues or list(known)

    async def queues(self) -> list[dict[str, Any]]:
        matrix = self.matrix.matrix
        stats = await self.store.queue_stats(matrix.queues, self.clock())
        for item in stats:
            queue = matrix.queues[item["queue"]]
            item["tier"] = queue.tier
            item["description"] = queue.description
        return stats

    async def claim_next(self, agent: str, queues: list[str]) -> ClaimedTicket | None:
        claimed = await self.store.claim_next(self._check_queues(queues), agent, self.clock())
        if claimed is not None:
            logger.info("ticket %s claimed by %s", claimed.reference, agent)
        return claimed

    async def view(self, ref: str) -> tuple[Ticket, TicketLists]:
        return await self.store.ticket_with_lists(ref)

    def risk_of(self, t: Ticket) -> dict[str, Any] | None:
        """The escalation risk of an open ticket now (None once it is closed)."""
        if t.status not in OPEN_STATUSES:
            return None
        return risk.assess(t, self.clock(), self.settings.business_hours).as_json()

    async def note(self, ref: str, agent: str, text: str) -> tuple[Ticket, TicketLists]:
        now = self.clock()
        await self.store.mutate(ref, lambda t: transitions.note(t, agent, text, now), now)
        return await self.view(ref)

    async def reply(self, ref: str, agent: str, role: str, text: str) -> dict[str, Any]:
        ticket = await self.store.ticket(ref)
        transitions.reply(ticket, agent, role, text, False, self.clock())  # may it? (before telling the chat)
        delivered = await self.notifier.trigger(ticket.conversation_id, "agent_message",
                                                {"agent_text": text, "agent_name": agent})
        now = self.clock()
        after = await self.store.mutate(ref, lambda t: transitions.reply(t, agent, role, text, delivered, now), now)
        return {"reference": ref, "delivered": delivered, "status": after.status}

    async def escalate(self, ref: str, agent: str, role: str, to_queue: str | None,
                       reason: str) -> tuple[Ticket, TicketLists]:
        matrix = self.matrix.matrix
        if to_queue is not None and to_queue not in matrix.queues:
            raise InvalidTicket(f"unknown queue {to_queue!r}")
        to = matrix.queues[to_queue] if to_queue else None
        now = self.clock()
        hours = self.settings.business_hours
        await self.store.mutate(ref, lambda t: transitions.escalate(t, agent, role, to, reason, matrix, now, hours),
                                now)
        logger.info("ticket %s escalated by %s", ref, agent)
        return await self.view(ref)

    async def resolve(self, ref: str, agent: str, role: str, resolution: str,
                      proposal: dict[str, Any] | None) -> dict[str, Any]:
        now = self.clock()
        ticket = await self.store.mutate(ref, lambda t: transitions.resolve(t, agent, role, resolution, now), now)
        draft = None
        issues: list[str] = []
        if proposal is not None:
            path = write_draft(self.settings.kb_drafts_dir, proposal, ref, ticket.product, ticket.error_code)
            draft = str(path)
            issues = draft_issues(path, self.matrix.matrix.taxonomy)
            await self.store.record_event(ref, Event("kb_draft_proposed", agent, "article proposed",
                                                     {"path": draft, "title": proposal["title"],
                                                      "lang": proposal["lang"], "category": proposal["category"]}),
                                          now)
        handed_back = [await self.notifier.trigger(channel["conversation_id"], "ticket_resolved", {"reference": ref})
                       for channel in ticket.channels]
        logger.info("ticket %s resolved by %s", ref, agent)
        return {"ticket": await self.view(ref), "draft_path": draft, "draft_issues": issues,
                "bot_notified": all(handed_back)}

    async def reopen(self, ref: str, agent: str, reason: str) -> tuple[Ticket, TicketLists]:
        now = self.clock()
        await self.store.mutate(ref, lambda t: transitions.reopen(t, agent, reason, now), now)
        return await self.view(ref)

    async def release(self, ref: str, agent: str, role: str, reason: str) -> tuple[Ticket, TicketLists]:
        now = self.clock()
        await self.store.mutate(ref, lambda t: transitions.release(t, agent, role, reason, now), now)
        return await self.view(ref)

    # -- the helpdesk connector ---------------------------------------------------------------------

    async def link_helpdesk(self, ref: str, helpdesk_id: str) -> Ticket:
        """Store the helpdesk's id of the ticket's twin (an event when it is new; a second id is a conflict)."""
        now = self.clock()
        return await self.store.mutate(ref, lambda t: transitions.link_helpdesk(t, helpdesk_id, now), now)

    async def helpdesk_action(self, ref: str, action: HelpdeskAction) -> dict[str, Any]:
        """A change made in the helpdesk, applied at most once per ``action.key`` (the helpdesk's transaction
        id): a reply reaches the customer's chat like a console reply, a resolve hands the conversation
        back to the bot (which asks for a rating), an escalation moves the ticket to ``to_queue``.
        ``applied`` is False when the key was applied before (nothing is done again)."""
        if await self.store.applied(ref, action.key):
            ticket = await self.store.ticket(ref)
            return {"reference": ref, "applied": False, "status": ticket.status}
        agent, key = action.agent, action.key
        if action.action == "reply":
            ticket = await self.store.ticket(ref)
            transitions.helpdesk_reply(ticket, agent, action.text, False, self.clock())  # may it? (before the chat)
            delivered = await self.notifier.trigger(ticket.conversation_id, "agent_message",
                                                    {"agent_text": action.text, "agent_name": agent})
            now = self.clock()
            after, applied = await self.store.mutate_once(
                ref, key, lambda t: _from_helpdesk(transitions.helpdesk_reply(t, agent, action.text, delivered, now)),
                now)
            return {"reference": ref, "applied": applied, "status": after.status, "delivered": delivered}
        now = self.clock()
        if action.action == "resolve":
            after, applied = await self.store.mutate_once(
                ref, key, lambda t: _from_helpdesk(transitions.resolve(t, agent, "lead", action.text, now)), now)
            notified = True
            if applied:
                logger.info("ticket %s resolved in the helpdesk by %s", ref, agent)
                notified = all([await self.notifier.trigger(channel["conversation_id"], "ticket_resolved",
                                                            {"reference": ref}) for channel in after.channels])
            return {"reference": ref, "applied": applied, "status": after.status, "bot_notified": notified}
        matrix = self.matrix.matrix
        if action.to_queue not in matrix.queues:
            raise InvalidTicket(f"unknown queue {action.to_queue!r}")
        to, hours = matrix.queues[action.to_queue], self.settings.business_hours
        after, applied = await self.store.mutate_once(
            ref, key, lambda t: _from_helpdesk(transitions.escalate(t, agent, "lead", to, action.text, matrix, now,
                                                                   hours)), now)
        return {"reference": ref, "applied": applied, "status": after.status, "queue": after.queue}

    async def agent_stats(self) -> list[dict[str, Any]]:
        names = await self.store.agent_names()
        counters = await self.store.agent_counters(names)
        escalated = (await self.store.stats())["escalations_by_agent"]
        out = []
        for name in names:
            counts = counters[name]
            rating_count = counts.get("rating_count", 0)
            out.append({
                "agent": name, "claimed": counts.get("claimed", 0), "resolved": counts.get("resolved", 0),
                "replies": counts.get("replies", 0), "escalated": escalated.get(name, 0),
                "average_rating": round(counts.get("rating_sum", 0) / rating_count, 2) if rating_count else None,
            })
        return out

    async def analytics(self, since: str = "7d") -> dict[str, Any]:
        """The figures of the period ``since`` (``handoff.reporting``; a bad value raises InvalidTicket) and,
        as before, the all-time counters (``by_category``, ``by_article``, ``by_tag``, ...)."""
        figures = await reporting.period_figures(self.store, since, self.clock(), self.settings.business_hours.timezone)
        return {**await self.all_time_analytics(), **figures}

    async def all_time_analytics(self) -> dict[str, Any]:
        stats = await self.store.stats()

        def rates(base: dict[str, int], up: dict[str, int]) -> list[dict[str, Any]]:
            rows = [{"key": k, "tickets": n, "escalated": up.get(k, 0),
                     "escalation_rate": round(up.get(k, 0) / n, 3) if n else 0.0} for k, n in base.items()]
            return sorted(rows, key=lambda r: (-r["tickets"], r["key"]))

        return {
            "by_category": rates(stats["created_by_category"], stats["escalated_by_category"]),
            "by_article": rates(stats["handoff_by_article"], stats["escalated_by_article"]),
            "by_tag": rates(stats["handoff_by_tag"], stats["escalated_by_tag"]),
            "agents_escalating_most": [{"agent": a, "escalations": n} for a, n in
                                       sorted(stats["escalations_by_agent"].items(), key=lambda kv: -kv[1])
                                       if a != SYSTEM][:10],
            "recurring_issues": [{"category": k.split("|", 1)[0], "issue": k.split("|", 1)[1], "tickets": n}
                                 for k, n in sorted(stats["issues"].items(), key=lambda kv: -kv[1]) if n >= 2][:20],
            "ratings": stats["ratings"],
        }

    async def kb_gaps(self, since: str) -> dict[str, Any]:
        return await gaps.report(self.store, self.clock(), since, self.settings.business_hours.timezone)

    # -- SLA watcher ----------------------------------------------------------------------------------

    async def sweep_sla(self) -> dict[str, int]:
        """One SLA sweep: warn before a breach (and raise priority), mark breaches, move tier-1 tickets
        past their limit up to tier 2, raise the priority of a ticket whose escalation risk has become high.
        One instance per sweep (lock); every change re-checks atomically.
        Reads only the tickets whose next check is due (the ``sla:due`` schedule every write keeps), so its
        cost follows the tickets that are due, not all open ones."""
        now = self.clock()
        owner = f"{self.settings.instance_id}:{secrets.token_hex(4)}"
        counts = {"warned": 0, "breached": 0, "escalated": 0, "tier_alerts": 0, "risk_raised": 0}
        interval = self.settings.sla_interval or 30.0
        ttl = max(1000, int(interval * 1000))
        if not await self.store.acquire_lock("sla", owner, ttl):
            return counts
        try:
            await self.store.backfill_sla_schedule()
            seen: set[str] = set()
            slots = asyncio.Semaphore(SLA_CONCURRENCY)

            async def check(ref: str, t: Ticket | None) -> None:
                async with slots:
                    for kind in transitions.sla_checks(t, now, self.settings.business_hours) if t is not None else []:
                        outcome = await self._sla_step(ref, kind, now)
                        if outcome:
                            counts[outcome] += 1
                    # due but with nothing (more) to do now: its next check, or the next sweep
                    await self.store.reschedule_sla(ref, now, now + interval)

            while True:
                refs = [r for r in await self.store.due_refs(now, SLA_BATCH) if r not in seen]
                if not refs:
                    break
                seen.update(refs)
                await asyncio.gather(*(check(ref, t) for ref, t in zip(refs, await self.store.tickets(refs))))
                if not await self.store.extend_lock("sla", owner, ttl):  # a long sweep keeps its lock
                    logger.warning("sla sweep lost its lock after %d tickets; the next sweep goes on", len(seen))
                    break
        finally:
            await self.store.release_lock("sla", owner)
        return counts

    async def _sla_step(self, ref: str, kind: str, now: float) -> str:
        """One SLA step of one ticket, re-checked inside the atomic update; returns what it did."""
        done: list[Event] = []

        def step(t: Ticket) -> transitions.Result | None:
            done.clear()
            result = transitions.sla_step(t, kind, now, self.matrix.matrix, self.settings.business_hours)
            if result is not None:
                done.append(result[1])
            return result

        await self.store.mutate(ref, step, now)
        if not done:
            return ""
        return {"sla_warning": "warned", "sla_breached": "breached", "escalated": "escalated",
                "tier_limit_exceeded": "tier_alerts", "risk_raised": "risk_raised"}[done[0].kind]
