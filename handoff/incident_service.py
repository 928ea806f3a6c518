"""Use cases of incidents (rules in ``handoff.incidents``, Redis in ``handoff.incident_store``): the detector
that reads new tickets and the bot's unanswered conversations from the streams, the bot's link of a
customer who describes a known problem, the leads' confirm / rename / merge / resolve, and the durable
notification that tells every linked conversation when the problem is fixed. Knows nothing of HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot.rasa_client import RasaNotifier
from handoff import incidents, transitions
from handoff.errors import Conflict, IncidentNotFound, InvalidRequest, TicketNotFound
from handoff.incident_store import IncidentStore
from handoff.incidents import Incident, Report
from handoff.matrix_source import MatrixSource
from handoff.store import Store
from handoff.tickets import Ticket
from handoff.transitions import Event

logger = logging.getLogger(__name__)

DETECTOR = "incident-detector"
GROUP = "incidents"  # consumer group of the detector on the events stream and on the signals stream
NOTIFY_BATCH = 50
NOTIFY_LEASE = 60.0  # seconds another instance leaves a notification alone while this one sends it
NOTIFY_GIVE_UP = 60  # attempts (about a week with the backoff below) before a notification is dropped
RESOLVED_INTENT = "incident_resolved"


def notify_backoff(attempts: int) -> float:
    """Seconds until the next try of a notification that failed ``attempts`` times: 5 s doubling to 3 h."""
    return float(min(5 * 2 ** min(max(attempts - 1, 0), 12), 3 * 3600))


def report_of_ticket(ticket: Ticket) -> Report:
    return Report(
        conversation_id=ticket.channels[0]["conversation_id"] if ticket.channels else ticket.reference,
        at=ticket.created_at, language=ticket.language, category=ticket.category, product=ticket.product,
        error_code=ticket.error_code, reference=ticket.reference, text=ticket.description[:300], source="ticket",
        articles_not_helped=tuple(a["id"] for a in ticket.articles_shown if a.get("feedback") == "did_not_help"))


def report_of_signal(kind: str, conversation_id: str, at: float, data: Mapping[str, Any]) -> Report | None:
    """A bot conversation that ended without an answer, from the signals stream: nothing fitted
    (``kb_no_answer``) or the article did not help (``kb_feedback`` with ``helped`` false)."""
    if kind == "kb_no_answer":
        articles: tuple[str, ...] = ()
    elif kind == "kb_feedback" and data.get("helped") is False and data.get("article_id"):
        articles = (str(data["article_id"]),)
    else:
        return None
    return Report(conversation_id=conversation_id, at=at, language=str(data.get("language") or "en"),
                  category=str(data.get("category") or ""), product=str(data.get("product") or ""),
                  error_code=str(data.get("error_code") or ""), articles_not_helped=articles,
                  text=str(data.get("text") or "")[:300], source="bot")


class IncidentService:
    def __init__(self, incidents_store: IncidentStore, store: Store, matrix: MatrixSource,
                 clock: Callable[[], float], notifier: RasaNotifier) -> None:
        self.incidents = incidents_store
        self.store = store
        self.matrix = matrix
        self.clock = clock
        self.notifier = notifier

    # -- the detector ---------------------------------------------------------------------------------

    async def report(self, report: Report) -> str | None:
        """Count one report; returns the incident it joined or opened, if any."""
        now = self.clock()
        states = await self.incidents.add_report(report, now)
        joined = next((s.open_incident for s in states if s.open_incident), None)
        if joined is not None:
            await self._link_report(joined, report, now)
            return joined
        for state in states:
            if incidents.is_burst(state.in_window, state.history):
                incident_id, opened, conversations = await self.incidents.open_incident(state.key, now)
                if opened:
                    await self._opened(incident_id, state.key, report, conversations, now)
                else:
                    await self._link_report(incident_id, report, now)
                return incident_id
        return None

    async def _opened(self, incident_id: str, key: str, trigger: Report, conversations: list[str],
                      now: float) -> None:
        summaries = await self.incidents.report_summaries(conversations)
        first = [summaries[c] for c in conversations if c in summaries]
        labels = {name: term.label("en") for name, term in self.matrix.matrix.categories.items()}
        incident = incidents.opened(incident_id, key, trigger, first, now, labels)
        await self.incidents.put(incident)
        logger.info("incident %s opened for %s with %d reports", incident_id, key, len(conversations))
        await self._event(incident_id, "incident_opened", DETECTOR, f"burst of reports under {key}",
                          {"title": incident.title, "keys": list(incident.keys), "reports": len(conversations)}, now)
        for conversation in conversations:
            summary = summaries.get(conversation, {})
            await self._link(incident_id, conversation, str(summary.get("language") or "en"),
                             str(summary.get("reference") or ""), "report", now)

    async def _link_report(self, incident_id: str, report: Report, now: float) -> None:
        await self._link(incident_id, report.conversation_id, report.language, report.reference, "report", now)

    async def _link(self, incident_id: str, conversation_id: str, language: str, reference: str, how: str,
                    now: float) -> bool:
        entry = {"language": language, "at": now, "reference": reference, "how": how}
        added = await self.incidents.link(incident_id, conversation_id, entry, report=how == "report")
        if reference:
            await self._adopt_ticket(incident_id, reference, now)
        if added:
            await self._event(incident_id, "incident_linked", DETECTOR if how == "report" else "bot",
                              "customer linked", {"conversation_id": conversation_id, "reference": reference,
                                                  "how": how, "language": language}, now)
        return added

    async def _adopt_ticket(self, incident_id: str, reference: str, now: float) -> None:
        """The ticket becomes a child of the incident (its parent link)."""
        try:
            await self.store.mutate(reference, lambda t: transitions.link_incident(t, incident_id, now), now)
        except TicketNotFound:
            return
        await self.incidents.add_ticket(incident_id, reference)

    async def _event(self, incident_id: str, kind: str, by: str, reason: str, data: Mapping[str, Any],
                     now: float) -> None:
        await self.store.record_event(incident_id, Event(kind, by, reason, {"incident": incident_id, **data}), now)

    async def consume(self, stream: str, consumer: str, block_ms: int = 1000) -> int:
        """One read of new entries of ``stream`` (the events stream: ``created`` tickets; the signals
        stream: the bot's unanswered conversations), each reported; returns how many were read."""
        entries = await self.store.read_group(GROUP, consumer, count=100, block_ms=block_ms, stream=stream)
        for entry_id, fields in entries:
            report = await self._report_of_entry(stream, fields)
            if report is not None:
                try:
                    await self.report(report)
                except (Conflict, TicketNotFound) as exc:  # a ticket that changed or went: nothing to count
                    logger.warning("incident report from %s skipped: %s", entry_id, exc)
            await self.store.ack(GROUP, entry_id, stream=stream)
        return len(entries)

    async def _report_of_entry(self, stream: str, fields: Mapping[str, str]) -> Report | None:
        kind = fields.get("type", "")
        if stream == self.store.events_key:
            if kind != "created" or not fields.get("ref"):
                return None
            try:
                return report_of_ticket(await self.store.ticket(fields["ref"]))
            except TicketNotFound:
                return None
        try:
            data = json.loads(fields.get("data") or "{}")
        except ValueError:
            return None
        return report_of_signal(kind, fields.get("conv", ""), float(fields.get("at") or self.clock()), data)

    # -- the bot --------------------------------------------------------------------------------------

    async def open_incidents(self) -> list[Incident]:
        return [i for i in await self.incidents.many(await self.incidents.open_ids()) if i.is_open]

    async def link_customer(self, incident_id: str, conversation_id: str, language: str,
                            reference: str = "") -> Incident:
        """A customer who described a known problem (the bot told them): linked, to be told when fixed."""
        incident = await self._current(incident_id)
        if not incident.is_open:
            raise Conflict(f"incident {incident.id} is {incident.status}")
        await self._link(incident.id, conversation_id, language, reference, "told", self.clock())
        return incident

    async def unlink_customer(self, incident_id: str, conversation_id: str) -> bool:
        """The customer said it is not their problem."""
        incident = await self._current(incident_id)
        removed = await self.incidents.unlink(incident.id, conversation_id)
        if removed:
            await self._event(incident.id, "incident_unlinked", "bot", "customer said it is another problem",
                              {"conversation_id": conversation_id}, self.clock())
        return removed

    async def _current(self, incident_id: str) -> Incident:
        """The incident, or the one it was merged into."""
        incident = await self.incidents.get(incident_id)
        for _ in range(10):
            if incident.status != "merged" or not incident.merged_into:
                break
            incident = await self.incidents.get(incident.merged_into)
        return incident

    async def public_view(self, incident_id: str) -> dict[str, Any]:
        """What the bot may tell a linked customer: status and title, no other customer's data."""
        incident = await self._current(incident_id)
        return {"id": incident.id, "title": incident.title, "status": incident.status,
                "resolved_at": incident.resolved_at}

    # -- leads ----------------------------------------------------------------------------------------

    async def list(self, status: str) -> list[dict[str, Any]]:
        if status not in ("open", "all", *incidents.STATES):
            raise InvalidRequest(f"status must be open, all or one of {', '.join(incidents.STATES)}")
        found = await self.incidents.many(await self.incidents.recent_ids(200))
        if status == "open":
            found = [i for i in found if i.is_open]
        elif status != "all":
            found = [i for i in found if i.status == status]
        counts = await self.incidents.conversation_counts([i.id for i in found])
        return [{**i.to_json(), "conversations": n} for i, n in zip(found, counts)]

    async def detail(self, incident_id: str) -> dict[str, Any]:
        incident = await self.incidents.get(incident_id)
        conversations = await self.incidents.conversations(incident_id)
        refs = await self.incidents.tickets(incident_id)
        tickets = []
        for ticket in await self.store.tickets(refs):
            if ticket is not None:
                tickets.append({"reference": ticket.reference, "status": ticket.status, "queue": ticket.queue,
                                "priority": ticket.priority, "language": ticket.language})
        by_how: dict[str, int] = {}
        by_language: dict[str, int] = {}
        for entry in conversations.values():
            by_how[str(entry.get("how"))] = by_how.get(str(entry.get("how")), 0) + 1
            by_language[str(entry.get("language"))] = by_language.get(str(entry.get("language")), 0) + 1
        def ranked(counts: dict[str, int]) -> dict[str, int]:  # most first, ties by name: the same order each time
            return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

        return {**incident.to_json(), "conversations": len(conversations), "conversations_by_how": ranked(by_how),
                "conversations_by_language": ranked(by_language), "tickets": tickets,
                "notifications_pending": await self.incidents.pending_notifications()}

    async def declare(self, lead: str, title: str, *, category: str = "", product: str = "", error_code: str = "",
                      article: str = "") -> Incident:
        """A lead declares an incident (an outage monitoring saw first): the bot tells matching customers
        from now on, and the detector's reports join it."""
        now = self.clock()
        fields = {"category": category, "product": product, "error_code": error_code, "article": article}
        incidents.declared("I-0", title, lead, now, **fields)  # refused before a number is taken
        incident = await self.incidents.declare(incidents.report_keys(
            category=category, product=product, error_code=error_code, articles_not_helped=[article] if article else []),
            lambda incident_id: incidents.declared(incident_id, title, lead, now, **fields), now)
        await self._event(incident.id, "incident_opened", lead, "declared by a lead",
                          {"title": incident.title, "keys": list(incident.keys), "reports": 0}, now)
        return incident

    async def confirm(self, incident_id: str, lead: str) -> Incident:
        now = self.clock()
        incident = await self.incidents.mutate(incident_id, lambda i: incidents.confirm(i, lead, now))
        await self._event(incident_id, "incident_confirmed", lead, "confirmed by a lead", {"title": incident.title},
                          now)
        return incident

    async def rename(self, incident_id: str, title: str, lead: str) -> Incident:
        now = self.clock()
        incident = await self.incidents.mutate(incident_id, lambda i: incidents.rename(i, title, lead))
        await self._event(incident_id, "incident_renamed", lead, "renamed", {"title": incident.title}, now)
        return incident

    async def merge(self, incident_id: str, into: str, lead: str) -> Incident:
        """``incident_id`` goes into ``into``: its keys, reports, conversations and tickets."""
        now = self.clock()
        source = await self.incidents.get(incident_id)
        incidents.merged(source, into)  # refused (closed, or itself) before anything is written
        target = await self.incidents.mutate(into, lambda t: incidents.absorb(t, source))
        await self.incidents.mutate(incident_id, lambda s: incidents.merged(s, into))
        await self.incidents.point_keys(source.keys, into)
        for conversation, entry in (await self.incidents.conversations(incident_id)).items():
            await self._link(into, conversation, str(entry.get("language") or "en"), str(entry.get("reference") or ""),
                             str(entry.get("how") or "told"), now)
        for reference in await self.incidents.tickets(incident_id):
            await self._adopt_ticket(into, reference, now)
        await self._event(into, "incident_merged", lead, f"{incident_id} merged into {into}",
                          {"merged": incident_id, "title": target.title}, now)
        return await self.incidents.get(into)

    async def resolve(self, incident_id: str, lead: str, message: Mapping[str, str],
                      resolve_tickets: bool = True) -> dict[str, Any]:
        """Resolved: every linked conversation is told (durably, retried until Rasa accepts), and the
        child tickets that are still open are resolved with the message."""
        now = self.clock()
        incident = await self.incidents.mutate(incident_id, lambda i: incidents.resolve(i, lead, message, now))
        conversations = await self.incidents.conversations(incident_id)
        scheduled = await self.incidents.schedule_notifications(incident_id, conversations, now)
        resolved: list[str] = []
        if resolve_tickets:
            text = incident.resolution.get("en") or next(iter(incident.resolution.values()), "") or incident.title
            for reference in await self.incidents.tickets(incident_id):
                try:
                    await self.store.mutate(reference, lambda t: transitions.resolve(
                        t, lead, "lead", f"Incident {incident_id} resolved: {text}", now), now)
                    resolved.append(reference)
                except (Conflict, TicketNotFound):
                    continue  # resolved already, or gone
        await self._event(incident_id, "incident_resolved", lead, "resolved",
                          {"title": incident.title, "conversations": len(conversations),
                           "tickets_resolved": len(resolved)}, now)
        logger.info("incident %s resolved by %s: %d conversations to tell, %d tickets resolved", incident_id, lead,
                    scheduled, len(resolved))
        return {"incident": incident.to_json(), "conversations_to_tell": len(conversations),
                "tickets_resolved": resolved}

    # -- telling the customers ------------------------------------------------------------------------

    async def send_due_notifications(self) -> int:
        """One round: the due notifications (leased, so two instances do not both send one) go to Rasa
        as ``incident_resolved`` in each conversation; a failure is retried with backoff. Returns sent."""
        now = self.clock()
        due = await self.incidents.lease_notifications(now, NOTIFY_BATCH, NOTIFY_LEASE)
        if not due:
            return 0
        cache: dict[str, Incident] = {}
        sent = 0
        for incident_id, conversation_id in due:
            if incident_id not in cache:
                try:
                    cache[incident_id] = await self.incidents.get(incident_id)
                except IncidentNotFound:
                    await self.incidents.notified(incident_id, conversation_id)
                    continue
            incident = cache[incident_id]
            entry = (await self.incidents.conversations(incident_id)).get(conversation_id, {})
            language = str(entry.get("language") or "en")
            entities = {"incident": incident.id, "incident_title": incident.title,
                        "incident_message": incident.resolution.get(language, ""),
                        "reference": str(entry.get("reference") or "")}
            if await self.notifier.trigger(conversation_id, RESOLVED_INTENT, entities):
                await self.incidents.notified(incident_id, conversation_id)
                sent += 1
            else:
                tries = await self.incidents.retry_notification(incident_id, conversation_id, self.clock(),
                                                                notify_backoff, NOTIFY_GIVE_UP)
                logger.warning("incident %s: conversation %s not told yet (attempt %d)", incident_id,
                               conversation_id, tries)
        return sent


async def run_incident_detector(service: IncidentService, streams: list[str], consumer: str) -> None:
    """Reads every stream in turn (the events stream for new tickets, the signals stream for the bot's
    unanswered conversations) in the ``incidents`` consumer group; one instance takes each entry."""
    while True:
        try:
            for stream in streams:
                await service.store.ensure_group(GROUP, stream)
            while True:
                for stream in streams:
                    await service.consume(stream, consumer, block_ms=500)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis unavailable: wait and resume from the pending entries
            logger.warning("incident detector paused: %s", type(exc).__name__)
            await asyncio.sleep(1.0)


async def run_incident_notifier(service: IncidentService, interval: float) -> None:
    while True:
        try:
            while await service.send_due_notifications() >= NOTIFY_BATCH:
                pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("incident notifications paused: %s", type(exc).__name__)
        await asyncio.sleep(interval)
