"""What can happen to a ticket, as pure functions: each takes the ticket (and the facts of the request)
and returns the new ticket and its ``Event``, or raises ``Conflict``/``Forbidden``. No I/O: the store
applies the result atomically (``Store.mutate``) and derives every Redis write from it (queues, history,
counters, stream, customer keys); the service only chooses the transition.

The SLA predicates are here once (``sla_checks``): the sweep's snapshot and the atomic re-check both ask it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.contract import OPEN_STATUSES, WAITING_STATUSES, CreateTicketRequest, TranscriptTurn
from handoff import risk, sla
from handoff.errors import Conflict, Forbidden
from handoff.masking import mask_text
from handoff.routing import Matrix, Queue, Route, escalation_target
from handoff.settings import BusinessHours
from handoff.tickets import Ticket, masked_transcript, told

SYSTEM = "sla-watcher"  # who the watcher's changes are by
SYSTEM_INCIDENTS = "incident-detector"  # who links tickets to incidents
BOT = "bot"
TRANSCRIPT_LIMIT = 500  # turns kept on the ticket


@dataclass(frozen=True)
class Event:
    """What happened to a ticket: its history entry and stream event. ``item`` is the reply, note or
    rating it adds to the ticket's lists; ``data`` goes to the stream (webhooks) with ``by`` and ``reason``."""

    kind: str  # created, claimed, attached, customer_message, note, reply, escalated, resolved, reopened,
    #            released, rated, sla_warning, sla_breached, tier_limit_exceeded, linked_to_incident,
    #            risk_raised
    by: str
    reason: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    item: Mapping[str, Any] | None = None


Result = tuple[Ticket, Event]


def unhelpful_articles(t: Ticket) -> list[str]:
    """The ids of the KB articles shown to the customer that did not help (no "helped" vote)."""
    return [a["id"] for a in t.articles_shown if a.get("feedback") != "helped"]


# -- the bot's side -------------------------------------------------------------------------------------

def create(request: CreateTicketRequest, decision: Route, *, secret: str, now: float,
           hours: BusinessHours) -> tuple[Result, Result | None]:
    """A new ticket routed by ``decision`` (its reference is numbered when it is stored), and the same
    ticket as it is when the customer counts as a repeated contact, if that raises its priority (the
    store's create script counts the contacts and keeps one of the two)."""
    base = told(request, now)
    customer = request.get("customer", {})

    def variant(repeat_contact: bool) -> Result:
        priority, reasons = sla.compute_priority(
            decision.priority, impact=request.get("impact", "only_me"),
            customer_tier=customer.get("tier", "standard"), frustrated=bool(request.get("frustrated")),
            repeat_contact=repeat_contact, urgency=request.get("urgency", "normal"),
        )
        due = sla.deadlines(priority, decision.tier, now, hours)
        ticket = Ticket(
            **base, secret_reference=secret, status="queued", queue=decision.queue, tier=decision.tier,
            priority=priority, priority_reasons=tuple(reasons), routing_rule=decision.rule, updated_at=now,
            enqueued_at=now, tier_entered_at=now, first_response_due=due.first_response_due,
            resolution_due=due.resolution_due, warn_at=sla.warn_time(now, due.first_response_due),
            tier_due=due.tier_due, customer_verified=bool(customer.get("verified") and customer.get("id")),
        )
        event = Event("created", BOT, f"routed by rule {decision.rule} to {decision.queue} ({priority})",
                      {"queue": decision.queue, "priority": priority, "category": ticket.category,
                       "channel": request["channel"], "rule": decision.rule, "tier": decision.tier,
                       "tags": list(ticket.tags), "articles": unhelpful_articles(ticket),
                       "conversation_id": request["conversation_id"],
                       "first_response_due": due.first_response_due})
        return ticket, event

    normal = variant(False)
    if sla.compute_priority(normal[0].priority, repeat_contact=True)[0] == normal[0].priority:
        return normal, None
    return normal, variant(True)


def attach(t: Ticket, request: CreateTicketRequest, now: float) -> Result | None:
    """The same (signed-in) customer wrote again from another conversation: it joins the open ticket."""
    conv, channel = request["conversation_id"], request["channel"]
    if any(c["conversation_id"] == conv for c in t.channels):
        return None
    return (replace(t, channels=(*t.channels, {"channel": channel, "conversation_id": conv, "attached_at": now}),
                    transcript=(*t.transcript, *masked_transcript(request))[-TRANSCRIPT_LIMIT:],
                    messages_since_reply=t.messages_since_reply + 1),
            Event("attached", BOT, f"same customer wrote again via {channel} (conversation {conv})",
                  {"channel": channel, "conversation_id": conv}))


def customer_message(t: Ticket, conversation_id: str, text: str, timestamp: float) -> Result:
    """A message the customer wrote about the open ticket (while an agent owns the conversation, or right
    after the ticket was opened); it is the agent's turn again."""
    if t.status not in OPEN_STATUSES:
        raise Conflict(f"ticket {t.reference} is {t.status}")
    turn: TranscriptTurn = {"sender": "customer", "text": mask_text(text), "timestamp": timestamp}
    return (replace(t, transcript=(*t.transcript, turn)[-TRANSCRIPT_LIMIT:],
                    status="claimed" if t.status == "waiting_customer" else t.status,
                    messages_since_reply=t.messages_since_reply + 1),
            Event("customer_message", "customer", f"message via conversation {conversation_id}"))


def rate(t: Ticket, rating: int, comment: str, now: float) -> Result:
    if t.status not in ("resolved", "closed"):
        raise Conflict(f"ticket {t.reference} is {t.status}; it can be rated once resolved")
    return (replace(t, rating=rating, status="closed"),
            Event("rated", "customer", f"satisfaction {rating}/5",
                  {"rating": rating, "queue": t.queue, "category": t.category, "agent": t.agent},
                  item={"rating": rating, "comment": mask_text(comment), "at": now}))


# -- the agents' side -----------------------------------------------------------------------------------

def require_owner(t: Ticket, agent: str, role: str, what: str) -> None:
    if role != "lead" and t.agent != agent:
        raise Forbidden(f"only the agent who claimed ticket {t.reference} or a lead may {what} it")


def claim(t: Ticket, agent: str, now: float) -> Result:
    """An agent takes a waiting ticket (the store's claim script does this atomically with choosing the
    best ticket of the agent's queues; tests/handoff/test_handoff_claim_json.py holds it to this)."""
    if t.status not in WAITING_STATUSES:
        raise Conflict(f"ticket {t.reference} is {t.status}, not waiting")
    return replace(t, status="claimed", agent=agent, claimed_at=now), claim_event(agent, t.queue)


def claim_event(agent: str, queue: str) -> Event:
    return Event("claimed", agent, f"claimed from queue {queue}", {"agent": agent, "queue": queue})


def note(t: Ticket, agent: str, text: str, now: float) -> Result:
    return t, Event("note", agent, "internal note", item={"agent": agent, "text": text, "timestamp": now})


def reply(t: Ticket, agent: str, role: str, text: str, delivered: bool, now: float) -> Result:
    if t.status not in ("claimed", "waiting_customer"):
        raise Conflict(f"ticket {t.reference} is {t.status}; claim it before replying")
    require_owner(t, agent, role, "reply to")
    data: dict[str, Any] = {"delivered": delivered}
    if not t.first_response_at:  # the first response: was its deadline met? (analytics: SLA met per queue)
        data.update(first_response=True, due=t.first_response_due, met=now <= t.first_response_due,
                    breached=t.breached, queue=t.queue, category=t.category)
    return (replace(t, status="waiting_customer", messages_since_reply=0,
                    first_response_at=t.first_response_at if t.first_response_at else now),
            Event("reply", agent, "reply to the customer" + ("" if delivered else " (not delivered to the chat)"),
                  data,
                  item={"agent": agent, "text": text, "timestamp": now, "delivered": delivered,
                        "conversation_id": t.conversation_id}))


def escalate(t: Ticket, agent: str, role: str, to: Queue | None, reason: str, matrix: Matrix, now: float,
             hours: BusinessHours) -> Result:
    """One tier up (the matrix's next queue for the category), or to the queue ``to``."""
    if t.status not in OPEN_STATUSES:
        raise Conflict(f"ticket {t.reference} is {t.status}; reopen it first")
    require_owner(t, agent, role, "escalate")
    target = to or escalation_target(matrix, t.category, t.queue)
    if target.name == t.queue:
        raise Conflict(f"ticket {t.reference} is already in queue {target.name}")
    return _move(t, target, agent, reason, now, hours)


def _move(t: Ticket, target: Queue, by: str, reason: str, now: float, hours: BusinessHours) -> Result:
    return (replace(t, status="escalated", queue=target.name, tier=target.tier, agent="", enqueued_at=now,
                    tier_entered_at=now, tier_due=sla.tier_deadline(t.priority, target.tier, now, hours)),
            Event("escalated", by, reason, {"from_queue": t.queue, "to_queue": target.name, "tier": target.tier,
                                            "from_tier": t.tier, "category": t.category, "tags": list(t.tags),
                                            "articles": unhelpful_articles(t)}))


def resolve(t: Ticket, agent: str, role: str, resolution: str, now: float) -> Result:
    if t.status not in OPEN_STATUSES:
        raise Conflict(f"ticket {t.reference} is already {t.status}")
    require_owner(t, agent, role, "resolve")
    return (replace(t, status="resolved", resolution=resolution, resolved_at=now),
            Event("resolved", agent, "resolved", {"queue": t.queue, "category": t.category}))


def link_incident(t: Ticket, incident: str, now: float) -> Result | None:
    """The ticket is one report of an incident (its parent); None when it already is."""
    if t.incident == incident:
        return None
    return (replace(t, incident=incident),
            Event("linked_to_incident", SYSTEM_INCIDENTS, f"part of incident {incident}",
                  {"incident": incident, "previous": t.incident, "conversation_id": t.conversation_id}))


def reopen(t: Ticket, agent: str, reason: str, now: float) -> Result:
    if t.status not in ("resolved", "closed"):
        raise Conflict(f"ticket {t.reference} is {t.status}, not resolved")
    return (replace(t, status="queued", agent="", enqueued_at=now, resolution="", reopened=t.reopened + 1),
            Event("reopened", agent, reason))


def release(t: Ticket, agent: str, role: str, reason: str, now: float) -> Result:
    if t.status not in ("claimed", "waiting_customer"):
        raise Conflict(f"ticket {t.reference} is {t.status}, not claimed")
    require_owner(t, agent, role, "release")
    return replace(t, status="queued", agent="", enqueued_at=now), Event("released", agent, reason or "released")


# -- the SLA watcher ------------------------------------------------------------------------------------

def sla_checks(t: Ticket, now: float, hours: BusinessHours) -> list[str]:
    """The SLA steps due for this ticket now: "warn" (the first response is near), "breach" (it is
    late), "tier" (the time limit of its tier has passed), "risk" (its escalation risk has become high:
    ``risk.high_from``; once). The one definition of when each applies."""
    if t.status not in OPEN_STATUSES:
        return []
    kinds = []
    due = t.first_response_due
    if not t.first_response_at:
        if not t.warned and t.warn_at <= now < due:
            kinds.append("warn")
        if not t.breached and now >= due:
            kinds.append("breach")
    if t.tier_due is not None and now >= t.tier_due and t.status != "waiting_customer":
        kinds.append("tier")
    if not t.risk_raised:
        at = risk.high_from(t, hours)
        if at is not None and now >= at:
            kinds.append("risk")
    return kinds


def next_sla_check(t: Ticket, hours: BusinessHours) -> float | None:
    """The earliest time at which ``sla_checks`` can return a step for this ticket as it is, or None when
    nothing can come due until it changes again (the store keeps open tickets under this time, so a sweep
    reads only the due ones)."""
    if t.status not in OPEN_STATUSES:
        return None
    at = _next_time_check(t)
    if not t.risk_raised:
        at = _earliest(at, risk.high_from(t, hours))
    return at


def next_sla_checks_by_history(t: Ticket, hours: BusinessHours,
                               contacts: range = range(1, risk.CONTACTS_CAP + 1)) -> dict[str, float | None]:
    """``next_sla_check`` of a new ticket for each customer history the store's create script can find,
    keyed ``"{contacts_7d}:{negative_ratings}"`` (contacts in ``contacts``, both cut at
    ``risk.CONTACTS_CAP``/``risk.NEGATIVE_CAP``, beyond which the score does not change): the script counts
    them and keeps the matching time."""
    if t.status not in OPEN_STATUSES:
        return {}
    at = _next_time_check(t)
    if t.risk_raised:
        return {f"{c}:{n}": at for c in contacts for n in range(risk.NEGATIVE_CAP + 1)}
    return {f"{c}:{n}": _earliest(at, moment) for (c, n), moment in risk.high_from_by_history(t, hours, contacts).items()}


def _next_time_check(t: Ticket) -> float | None:
    """The earliest of the deadline steps (warn, breach, tier) for an open ticket."""
    times: list[float] = []
    if not t.first_response_at and not t.breached:
        times.append(t.first_response_due)
        if not t.warned:
            times.append(min(t.warn_at, t.first_response_due))
    if t.tier_due is not None and t.status != "waiting_customer":
        times.append(t.tier_due)
    return min(times) if times else None


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def sla_step(t: Ticket, kind: str, now: float, matrix: Matrix, hours: BusinessHours) -> Result | None:
    """Do the SLA step ``kind`` if it is (still) due: warn and raise priority, mark the breach, move a
    tier-1 ticket past its limit up to tier 2 (higher tiers: an alert), raise priority on high risk."""
    if kind not in sla_checks(t, now, hours):
        return None
    due = t.first_response_due
    if kind == "warn":
        priority = _raised(t.priority)
        return (replace(t, warned=True, priority=priority),
                Event("sla_warning", SYSTEM, f"first response due in {max(0, round((due - now) / 60))} min; "
                      f"priority {t.priority} -> {priority}", {"due": due, "priority": priority}))
    if kind == "risk":
        assessed = risk.assess(t, now, hours)
        priority = _raised(t.priority)
        reasons = ", ".join(f"{r.code} {r.value:g}" for r in assessed.reasons)
        return (replace(t, risk_raised=True, priority=priority),
                Event("risk_raised", SYSTEM, f"escalation risk {assessed.score} ({reasons}); "
                      f"priority {t.priority} -> {priority}",
                      {"score": assessed.score, "reasons": [r.code for r in assessed.reasons], "priority": priority}))
    if kind == "breach":
        return (replace(t, breached=True),
                Event("sla_breached", SYSTEM, "first response deadline passed",
                      {"due": due, "queue": t.queue, "category": t.category}))
    if t.tier == 1:
        target = escalation_target(matrix, t.category, t.queue)
        if target.name == t.queue:
            return None
        return _move(t, target, SYSTEM, f"tier-1 limit of {sla.TIER_LIMIT_MINUTES[1]} minutes exceeded", now, hours)
    return (replace(t, tier_due=None),
            Event("tier_limit_exceeded", SYSTEM, f"tier-{t.tier} time limit exceeded",
                  {"tier": t.tier, "queue": t.queue}))


def _raised(priority: str) -> str:
    """One step up, at most to P2: only service-wide impact (or a P1 rule) makes a P1 (sla.compute_priority)."""
    return sla.raise_priority(priority, 1, highest="P2" if priority != "P1" else "P1")


# -- the helpdesk connector (connector/: RT) ------------------------------------------------------------

HELPDESK_CONNECTOR = "helpdesk-connector"  # who links a ticket to its helpdesk twin


def link_helpdesk(t: Ticket, helpdesk_id: str, now: float) -> Result | None:
    """The ticket is mirrored as ``helpdesk_id`` in the helpdesk; None when it already is. A ticket has one
    twin: linking it to another is a conflict (the connector creates at most one)."""
    if t.helpdesk_id == helpdesk_id:
        return None
    if t.helpdesk_id:
        raise Conflict(f"ticket {t.reference} is already mirrored as helpdesk ticket {t.helpdesk_id}")
    return (replace(t, helpdesk_id=helpdesk_id),
            Event("helpdesk_linked", HELPDESK_CONNECTOR, f"mirrored as helpdesk ticket {helpdesk_id}",
                  {"helpdesk_id": helpdesk_id}))


def helpdesk_reply(t: Ticket, agent: str, text: str, delivered: bool, now: float) -> Result:
    """An agent answered in the helpdesk: like a console reply, with the helpdesk's authority (it is where
    the agents work); a ticket still waiting in its queue is taken by that agent first."""
    if t.status in WAITING_STATUSES:
        t = replace(t, status="claimed", agent=agent, claimed_at=now)
    after, event = reply(t, agent, "lead", text, delivered, now)
    return after, replace(event, reason=event.reason.replace("reply to the customer", "reply from the helpdesk", 1))
