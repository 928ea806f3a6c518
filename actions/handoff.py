"""Hand the conversation to a human: create the pre-qualified ticket, report its status, take the rating.

No ticket is lost when the handoff service is down: the request is parked in Redis (actions/outbox.py: the
action server sends it when the service is back) and the bot retries by itself with a reminder, then tells the customer
the reference in the same chat.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.respond import utter
from actions.customer import language_of, metadata_of
from actions.digression import Digressions
from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable, UsesHandoff
from actions.incidents import KnownProblems, keys_of_problem, problem_categories
from actions.outbox import Outbox
from actions.prequal import EMAIL, inferred_fields, statements, steps_tried_text
from actions.texts import (
    ETA, ETA_HOURS, FIRST_RESPONSE, NEXT_STEPS, PRIORITY_NOTE, QUEUE_POSITION, SKIPPED, STATUSES, label, queue_label,
)
from bot.dialogue import assess_severity, is_question
from bot.contract import ArticleShown, CreateTicketRequest, Customer, TicketStatusView
from bot.conversation_keys import events_key, meta_key, transcript_from_events
from bot.incident_keys import problem_keys
from actions.settings import action_settings

logger = logging.getLogger(__name__)

AGENT_FALLBACK_NAME = "Streamly"
# a status question that names a ticket (the word, or a reference) asks about the ticket, not a known problem
NAMES_A_TICKET = re.compile(r"(?i)\b(?:ticket\w*|sag(?:en|snummer)?|anliegen|anfrage|request|case)\b|\bT-\d{6}\b")  # shown when a message from our team carries no agent name


def customer_of(tracker: Tracker) -> Customer:
    customer: Customer = {"verified": bool(tracker.get_slot("customer_verified"))}
    for field, slot in (("id", "customer_id"), ("name", "customer_name"), ("email", "customer_email"),
                        ("tier", "customer_tier")):
        value = tracker.get_slot(slot)
        if value:
            customer[field] = value  # type: ignore[literal-required]
    contact = tracker.get_slot("contact_email")
    if "email" not in customer and contact not in (None, SKIPPED) and EMAIL.match(str(contact)):
        # only a validated address: a question typed at the e-mail prompt is a slot candidate, not an address
        customer["email"] = contact
    return customer


TRANSCRIPT_TURNS = 60  # the latest messages of the session that go into the ticket


def transcript_of(tracker: Tracker) -> list[dict[str, Any]]:
    return transcript_from_events(list(tracker.events), TRANSCRIPT_TURNS)


class History:
    """The session's messages as the tracker store keeps them (rasa_ext/tracker_store.py): the
    tracker the action server gets holds only the recent turns of a long conversation, the ticket's
    transcript goes back further."""

    MAX_EVENTS = 3000  # read at most this many events back (a transcript needs far fewer)

    def __init__(self, redis_url: str | None = None, prefix: str | None = None) -> None:
        config = action_settings()
        self.redis_url = config.redis_url if redis_url is None else redis_url
        self.prefix = config.rasa_key_prefix if prefix is None else prefix

    async def transcript(self, tracker: Tracker) -> list[dict[str, Any]]:
        """The latest TRANSCRIPT_TURNS messages of the session; the tracker's own when Redis cannot say."""
        fallback = transcript_of(tracker)
        if not self.redis_url:
            return fallback
        from redis import asyncio as aioredis  # type: ignore[import-untyped, unused-ignore]

        try:
            async with aioredis.Redis.from_url(self.redis_url, socket_timeout=2, decode_responses=True) as redis:
                meta = await redis.hmget(meta_key(self.prefix, tracker.sender_id), "n", "session_start")
                if meta[0] is None:
                    return fallback
                start = max(int(meta[1] or 0), int(meta[0]) - self.MAX_EVENTS)
                raw = await redis.lrange(events_key(self.prefix, tracker.sender_id), start, -1)
        except Exception:  # Redis down: the recent turns are still a transcript
            logger.exception("could not read the history of %s", tracker.sender_id)
            return fallback
        stored = transcript_from_events([json.loads(item) for item in raw], TRANSCRIPT_TURNS)
        # the turn being processed is in the tracker, not yet stored
        newer = [t for t in fallback if t["timestamp"] > (stored[-1]["timestamp"] if stored else 0)]
        return (stored + newer)[-TRANSCRIPT_TURNS:]


def ticket_request(tracker: Tracker) -> CreateTicketRequest:
    """Everything the customer told us, so that the next tier never asks again."""

    def slot(name: str) -> str | None:
        value = tracker.get_slot(name)
        return None if value in (None, "", SKIPPED, "none") else str(value)

    shown = tracker.get_slot("kb_articles_shown") or []
    articles: list[ArticleShown] = [
        {"id": a["id"], "lang": a.get("lang", "en"), "title": a.get("title", a["id"]),
         "feedback": a.get("feedback", "none")}
        for a in shown if a.get("id")
    ]
    request: CreateTicketRequest = {
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or "rest",
        "language": language_of(tracker),
        "customer": customer_of(tracker),
        "description": slot("description") or slot("kb_query") or "(no description given)",
        "frustrated": bool(tracker.get_slot("frustrated")),
        "requested_human": bool(tracker.get_slot("requested_human")),
        "articles_shown": articles,
        "transcript": transcript_of(tracker),  # type: ignore[typeddict-item]
    }
    client = metadata_of(tracker).get("frontdoor_client")  # written by the chat channel, not the client
    if isinstance(client, str) and client:
        request["client"] = client
    steps = steps_tried_text(tracker)
    if steps:
        request["steps_tried"] = [s.strip() for s in steps.split(";") if s.strip()]
    inferred = inferred_fields(tracker)  # the customer's words, where the form did not ask
    for field in ("category", "product", "error_code", "order_number", "invoice_number", "impact", "urgency"):
        value = slot(field) or inferred.get(field)
        if value:
            request[field] = value  # type: ignore[literal-required]
    tags = assess_severity(statements(tracker)).tags
    if tags:
        request["tags"] = list(tags)
    not_helped = [a for a in shown if a.get("feedback") == "did_not_help" and a.get("escalate_to")]
    if not_helped:
        request["escalate_to"] = not_helped[-1]["escalate_to"]
    return request


def eta_text(minutes: int, lang: str) -> str:
    if minutes >= 120:
        return ETA_HOURS[lang].format(n=round(minutes / 60))
    return ETA[lang].format(n=max(1, minutes))


class HandoffAction(UsesHandoff, Action, abc.ABC):
    """Base of the actions that talk to the handoff service (abstract: not registered itself)."""

    @abc.abstractmethod
    def name(self) -> str: ...


class ActionCreateTicket(HandoffAction):
    def __init__(self, client: HandoffClient | None = None, outbox: Outbox | None = None,
                 history: History | None = None) -> None:
        super().__init__(client)
        self._outbox = outbox
        self._history = history

    @property
    def history(self) -> History:
        if self._history is None:
            self._history = History()
        return self._history

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox.from_settings(action_settings())
        return self._outbox

    def name(self) -> str:
        return "action_create_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        retry = (tracker.latest_message or {}).get("intent", {}).get("name") == "EXTERNAL_retry_ticket"
        if retry and tracker.get_slot("ticket_reference"):
            return []  # created meanwhile (e.g. by the outbox drain + an earlier retry)
        request = ticket_request(tracker)
        if not retry and not tracker.get_slot("incident"):
            # a problem many customers have right now: no ticket of its own, the customer is told when it is
            # fixed (one who was told already and still asks for a person gets the ticket)
            told = await self._known_problem(dispatcher, tracker, domain, request)
            if told is not None:
                return told + [SlotSet("review", "done")]
        request["transcript"] = await self.history.transcript(tracker)  # type: ignore[typeddict-item]
        try:
            created = await self.client.create_ticket(request)
        except HandoffRejected as exc:
            if exc.status == 429:  # this client opened too many tickets: say so (parked, it would open later)
                logger.warning("ticket of %s refused: %s", tracker.sender_id, exc.error)
                utter(dispatcher, tracker, domain, "utter_ticket_rate_limited")
                return [SlotSet("ticket_pending", False)]
            return await self._park(dispatcher, tracker, domain, request, retry, exc)
        except HandoffUnavailable as exc:
            return await self._park(dispatcher, tracker, domain, request, retry, exc)
        if tracker.get_slot("ticket_pending"):  # only a conversation that parked a request has one to clear
            await self.outbox.clear(tracker.sender_id)
        if not retry and not created.get("created", True) and created["reference"] != tracker.get_slot("ticket_reference"):
            utter(dispatcher, tracker, domain, "utter_ticket_attached", reference=created["reference"])
        utter(
            dispatcher, tracker, domain, "utter_ticket_created", reference=created["reference"],
            queue_label=queue_label(created["queue"], lang),
            next_steps=NEXT_STEPS.get(int(created.get("tier", 1)), NEXT_STEPS[1])[lang]
            + PRIORITY_NOTE.get(str(created.get("priority")), {}).get(lang, ""),
            eta=eta_text(int(created["expected_first_response_minutes"]), lang),
            secret=created["secret_reference"],
        )
        return [SlotSet("ticket_reference", created["reference"]), SlotSet("ticket_secret", created["secret_reference"]),
                SlotSet("ticket_pending", False), SlotSet("ticket_open", True), SlotSet("review", "done")]

    async def _known_problem(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                             request: CreateTicketRequest) -> list[EventType] | None:
        keys = {key: what for key, what in keys_of_problem(tracker, request.get("category", "")).items()}
        for code in [request.get("error_code", "")]:
            keys.update({k: str(code) for k in problem_keys(error_code=str(code or ""))})
        keys.update({k: str(request.get("product", "")) for k in problem_keys(
            category=request.get("category", ""), product=request.get("product", ""))})
        keys.update({k: "" for k in problem_keys(articles_not_helped=[
            a["id"] for a in request.get("articles_shown", []) if a.get("feedback") == "did_not_help"])})
        known = KnownProblems(self.client)
        found = await known.match(tracker, keys)
        return await known.tell(dispatcher, tracker, domain, *found) if found else None

    async def _park(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                    request: CreateTicketRequest, retry: bool, exc: Exception) -> list[EventType]:
        """Keep the request (the outbox's drain creates it) and promise the reference here."""
        parked = await self.outbox.park(request)  # kept either way; the drain sets rejected ones aside
        if not retry:
            utter(dispatcher, tracker, domain, "utter_handoff_unavailable")
        if isinstance(exc, HandoffRejected):  # retrying the same request cannot help: no reminder loop
            logger.error("handoff rejected the ticket of %s (parked=%s): %s", tracker.sender_id, parked, exc)
            return [SlotSet("ticket_pending", True)]
        delay = action_settings().ticket_retry_seconds
        when = dt.datetime.now() + dt.timedelta(seconds=delay)
        logger.warning("ticket of %s parked=%s; retrying in %ss", tracker.sender_id, parked, delay)
        # the reminder lives in Rasa's memory only; the drain also asks Rasa to retry once it created the
        # ticket (actions/outbox.py), so a restart of Rasa does not lose the promise
        return [SlotSet("ticket_pending", True),
                ReminderScheduled("EXTERNAL_retry_ticket", when, name="retry_ticket", kill_on_user_message=False)]


class ActionTicketStatus(HandoffAction):
    """Status only for the verified owner, this conversation, or with the ticket's secret reference; never
    by e-mail. "How long will it take?" before any ticket gets the first response the request would be
    promised now."""

    def __init__(self, client: HandoffClient | None = None, digressions: Digressions | None = None) -> None:
        super().__init__(client)
        self._digressions = digressions

    def name(self) -> str:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        text = str((tracker.latest_message or {}).get("text") or "")
        if (tracker.get_slot("kb_result") == "incident" and not NAMES_A_TICKET.search(text)
                and await KnownProblems(self.client).status(dispatcher, tracker, domain)):
            return []  # just told of a known problem: "is it working again?" is about that problem
        try:
            tickets = await self._tickets(tracker)
        except HandoffUnavailable:
            utter(dispatcher, tracker, domain, "utter_handoff_unavailable")
            return []
        if not tickets and await KnownProblems(self.client).status(dispatcher, tracker, domain):
            return []  # linked to a known problem: its status
        if not tickets and (tracker.latest_message or {}).get("intent", {}).get("name") == "ask_wait_time":
            digressions = self._digressions or Digressions(client=self.client)
            await digressions.wait(dispatcher, tracker, domain)
            return []
        if tickets is None or names_someone_else(tracker):
            # nobody proved who they are, or a signed-in customer asks about another person's address:
            # only the owner (signed in, or with the code of the confirmation) hears a status
            utter(dispatcher, tracker, domain, "utter_status_needs_verification")
            return []
        if not tickets:
            utter(dispatcher, tracker, domain, "utter_no_ticket_found")
            return []
        for ticket in tickets[:3]:
            utter(dispatcher, tracker, domain, "utter_ticket_status", reference=ticket["reference"],
                  status_label=label(STATUSES, ticket["status"], lang),
                  queue_label=queue_label(ticket["queue"], lang), position_text=position_text(ticket, lang))
            for reply in (ticket.get("agent_replies") or [])[-2:]:  # the status view names no agent
                utter(dispatcher, tracker, domain, "utter_agent_message", agent_name=AGENT_FALLBACK_NAME,
                      agent_text=reply.get("text", ""))
        return []

    async def _tickets(self, tracker: Tracker) -> list[TicketStatusView] | None:
        """The tickets this customer may see; None when they have not proved who they are."""
        secret = tracker.get_slot("ticket_secret")
        entities = (tracker.latest_message or {}).get("entities", [])
        typed_secret = next((e.get("value") for e in entities if e.get("entity") == "ticket_secret"), None)
        if typed_secret:
            found = await self.client.status_by_secret(typed_secret)
            return [found] if found else []
        if tracker.get_slot("customer_verified") and tracker.get_slot("customer_id"):
            return await self.client.customer_tickets(tracker.get_slot("customer_id"))
        if secret:  # the ticket created in this very conversation
            found = await self.client.status_by_secret(secret)
            return [found] if found else []
        own = await self.client.ticket_for_conversation(tracker.sender_id)
        if own:
            return [own]
        return None


def names_someone_else(tracker: Tracker) -> bool:
    """Does a signed-in customer's message name an e-mail address that is not theirs (asking about another
    person's request: "my wife's address is ...")? (An anonymous customer sees only this conversation's
    ticket or the one whose code they give, whatever address they type.)"""
    own = str(tracker.get_slot("customer_email") or "").casefold()
    if not (tracker.get_slot("customer_verified") and own):
        return False
    typed = [str(e.get("value") or "").casefold() for e in (tracker.latest_message or {}).get("entities", [])
             if e.get("entity") == "email"]  # the addresses the NLU found in the message (bot/entities.py)
    return any(address and address != own for address in typed)


def position_text(ticket: TicketStatusView, lang: str) -> str:
    """Queue position and the promised first response, in the words of the creation message."""
    text = ""
    position = ticket.get("queue_position")
    if position:
        text += QUEUE_POSITION[lang].format(position=position)
    wait = ticket.get("expected_wait_minutes")
    if wait is not None:
        text += FIRST_RESPONSE[lang].format(eta=eta_text(int(wait), lang))
    return text


async def add_to_ticket(client: HandoffClient, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: dict[str, Any]) -> list[EventType]:
    text = str((tracker.latest_message or {}).get("text") or "")
    reference = tracker.get_slot("ticket_reference") or ""
    try:
        await client.customer_message(tracker.sender_id, text)
    except HandoffRejected as exc:
        if exc.status in (404, 409):  # no open ticket any more: the bot takes the message from here
            utter(dispatcher, tracker, domain, "utter_ticket_closed_describe", reference=reference)
            return [SlotSet("ticket_open", False)]
        utter(dispatcher, tracker, domain, "utter_handoff_unavailable")
        return []
    except HandoffUnavailable:
        utter(dispatcher, tracker, domain, "utter_handoff_unavailable")
        return []
    utter(dispatcher, tracker, domain, "utter_added_to_ticket", reference=reference)
    return []


class ActionTicketFollowup(HandoffAction):
    """A message right after the ticket was opened. A clear question on another topic is answered from
    the knowledge base; anything else (more about the problem, "still waiting!", "I want a person") is
    about the open ticket: it is added to it, with the ticket's status, and no new ticket is offered."""

    def __init__(self, client: HandoffClient | None = None, digressions: Digressions | None = None) -> None:
        super().__init__(client)
        self._digressions = digressions

    def name(self) -> str:
        return "action_ticket_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        latest = tracker.latest_message or {}
        intent = str((latest.get("intent") or {}).get("name"))
        digressions = self._digressions or Digressions(client=self.client)
        if intent in ("describe_problem", "nlu_fallback", "complaint"):
            result = await digressions.latest_search(tracker)
            # a problem many customers have right now: said so, whatever the open ticket is about
            known = KnownProblems(self.client)
            found = await known.match(tracker, keys_of_problem(tracker, problem_categories(result)))
            told = await known.tell(dispatcher, tracker, domain, *found) if found else None
            if told is not None:
                return told
            hit = await digressions.other_topic(tracker, result) if intent != "complaint" else None
            if hit is not None:
                return await digressions.show_answer(dispatcher, tracker, domain, hit)
        if is_question(str(latest.get("text") or "")):  # "where am I in the queue?" asks, it adds nothing
            return await ActionTicketStatus(self.client).run(dispatcher, tracker, domain)
        events = await add_to_ticket(self.client, dispatcher, tracker, domain)
        if intent in ("request_human", "complaint") and not events:
            await ActionTicketStatus(self.client).run(dispatcher, tracker, domain)
        return events


class ActionRate(HandoffAction):
    def name(self) -> str:
        return "action_rate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        rating = next((e.get("value") for e in (tracker.latest_message or {}).get("entities", [])
                       if e.get("entity") == "rating"), None)
        reference = tracker.get_slot("ticket_reference")
        try:
            value = int(str(rating))
        except ValueError:
            value = 0
        if reference and 1 <= value <= 5:
            try:
                await self.client.rate(reference, value)
            except (HandoffUnavailable, HandoffRejected):
                logger.warning("rating of %s not stored", reference)
        utter(dispatcher, tracker, domain, "utter_thanks_for_rating")
        return []
