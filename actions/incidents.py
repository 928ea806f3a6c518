"""Known problems: while the handoff service has an open incident, a customer who describes that problem is
told right away, in their language, that it is known and that they will be told here when it is fixed;
their conversation is linked to the incident (no new ticket, nobody lost). A customer who says it is not
their problem is unlinked and helped as usual; one who was told and still wants a person gets a ticket.
When a lead resolves the incident, the handoff service triggers ``incident_resolved`` in the conversation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.customer import language_of
from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable, UsesHandoff
from actions.respond import utter
from bot.incident_keys import problem_keys
from bot.kb.search import SearchResult

logger = logging.getLogger(__name__)

CACHE_SECONDS = 2.0  # how long the list of open incidents is reused (one request per action server)


def latest_entities(tracker: Tracker, name: str) -> list[str]:
    return [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities", [])
            if e.get("entity") == name and e.get("value")]


def problem_categories(result: SearchResult | None, fallback: str = "") -> list[str]:
    """The categories the customer's problem may be in: the answer's, when the knowledge base found one
    with confidence; else those of its nearest articles (a Stick that "plays nothing any more" may be a
    delivery or a playback problem: the incident's product decides), else ``fallback``."""
    if result is not None and result.best is not None:
        return [result.best.article.category]
    found = list(dict.fromkeys(h.article.category for h in (result.hits[:3] if result is not None else [])))
    return found or ([fallback] if fallback else [])


def keys_of_problem(tracker: Tracker, categories: list[str] | str = "", article: str = "") -> dict[str, str]:
    """The incident keys of what the customer describes now, each with the words it stands for: the error
    codes and products named in this message (else the ones the conversation knows), with the categories and
    the article the KB found for it."""
    codes = latest_entities(tracker, "error_code") or [str(tracker.get_slot("error_code") or "")]
    products = latest_entities(tracker, "product") or [str(tracker.get_slot("product") or "")]
    keys: dict[str, str] = {}
    for code in codes:
        keys.update({key: code.strip().upper() for key in problem_keys(error_code=code)})
    for category in [categories] if isinstance(categories, str) else categories:
        for product in products:
            keys.update({key: product for key in problem_keys(category=category, product=product)})
    if article:
        keys.update({key: "" for key in problem_keys(articles_not_helped=[article])})
    return keys


def described_as(incident: dict[str, Any], keys: dict[str, str]) -> str:
    """What the incident is about, in words every language can carry: the error code or the product the
    customer named (in that order), else the incident's title."""
    matched = [keys[k] for k in sorted(set(incident.get("keys", [])) & set(keys), key=lambda k: k[:1])
               if keys[k]]
    return matched[0] if matched else str(incident.get("title") or "")


class KnownProblems(UsesHandoff):
    """The open incidents, fetched at most every CACHE_SECONDS per process; the handoff service being down
    means none are known (the customer is helped as usual)."""

    _cached: dict[str, tuple[float, list[dict[str, Any]]]] = {}  # per handoff service URL

    def __init__(self, client: HandoffClient | None = None, clock: Any = time.monotonic) -> None:
        super().__init__(client)
        self.clock = clock

    async def open(self) -> list[dict[str, Any]]:
        url = getattr(self.client, "base_url", None)  # a test's fake client has none: never cached
        at, incidents = KnownProblems._cached.get(url, (0.0, [])) if url else (0.0, [])
        if url and self.clock() - at < CACHE_SECONDS:
            return incidents
        try:
            incidents = await self.client.open_incidents()
        except (HandoffUnavailable, HandoffRejected) as exc:
            logger.warning("open incidents unknown: %s", type(exc).__name__)
            incidents = []
        if url:
            KnownProblems._cached[url] = (self.clock(), incidents)
        return incidents

    async def match(self, tracker: Tracker, keys: dict[str, str]) -> tuple[dict[str, Any], str] | None:
        """The open incident the customer's problem belongs to and what it is about, unless the customer
        said before that this one is not theirs."""
        if not keys:
            return None
        declined = tracker.get_slot("incident_declined")
        for incident in await self.open():
            if incident.get("id") != declined and set(incident.get("keys", [])) & set(keys):
                return incident, described_as(incident, keys)
        return None

    async def tell(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                   incident: dict[str, Any], what: str) -> list[EventType] | None:
        """Link the conversation and tell the customer; None when the link failed (then nothing is said:
        a customer who cannot be told when it is fixed is helped as usual)."""
        if tracker.get_slot("incident") == incident.get("id"):  # told already: where it stands
            utter(dispatcher, tracker, domain, "utter_incident_still_open", incident_what=what)
            return [SlotSet("kb_result", "incident")]
        reference = self.ticket_about(tracker, incident)
        try:
            await self.client.link_incident(str(incident["id"]), tracker.sender_id, language_of(tracker), reference)
        except (HandoffUnavailable, HandoffRejected) as exc:
            logger.warning("could not link %s to incident %s: %s", tracker.sender_id, incident.get("id"),
                           type(exc).__name__)
            return None
        utter(dispatcher, tracker, domain, "utter_incident_known", incident_what=what)
        return [SlotSet("incident", str(incident["id"])), SlotSet("incident_what", what),
                SlotSet("kb_result", "incident")]

    @staticmethod
    def ticket_about(tracker: Tracker, incident: dict[str, Any]) -> str:
        """The conversation's open ticket, when it is about the incident's problem (it becomes the
        incident's child, resolved with it); an open ticket about something else stays out of it."""
        if not tracker.get_slot("ticket_open") or not tracker.get_slot("ticket_reference"):
            return ""
        shown = tracker.get_slot("kb_articles_shown") or []
        keys = problem_keys(category=str(tracker.get_slot("category") or ""),
                            product=str(tracker.get_slot("product") or ""),
                            error_code=str(tracker.get_slot("error_code") or ""),
                            articles_not_helped=[str(a.get("id")) for a in shown if a.get("feedback") == "did_not_help"])
        return str(tracker.get_slot("ticket_reference")) if set(keys) & set(incident.get("keys", [])) else ""

    async def not_mine(self, tracker: Tracker) -> list[EventType]:
        """The customer says the known problem is not theirs: unlink, and never match it again here."""
        incident = tracker.get_slot("incident")
        if incident:
            try:
                await self.client.unlink_incident(str(incident), tracker.sender_id)
            except (HandoffUnavailable, HandoffRejected) as exc:
                logger.warning("could not unlink %s from %s: %s", tracker.sender_id, incident, type(exc).__name__)
        return [SlotSet("incident", None), SlotSet("incident_declined", incident)]

    async def status(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> bool:
        """Answer "is it fixed yet?" for a customer linked to an incident; False when there is none."""
        incident = tracker.get_slot("incident")
        if not incident:
            return False
        what = str(tracker.get_slot("incident_what") or "")
        try:
            found = await self.client.incident(str(incident))
        except HandoffUnavailable:
            found = {"status": "open"}
        if found is None:
            return False
        if found.get("status") == "resolved":
            utter(dispatcher, tracker, domain, "utter_incident_resolved", incident_what=what or found.get("title", ""),
                  incident_message="")
        else:
            utter(dispatcher, tracker, domain, "utter_incident_still_open", incident_what=what or found.get("title", ""))
        return True


class ActionIncidentResolved(Action):
    """The handoff service says the known problem is fixed (``incident_resolved``, through Rasa's HTTP
    API): tell the customer in their language, with the lead's message for that language if there is one."""

    def name(self) -> str:
        return "action_incident_resolved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        def entity(name: str) -> str:
            return next(iter(latest_entities(tracker, name)), "")

        what = tracker.get_slot("incident_what") or entity("incident_title")
        message = entity("incident_message").strip()
        utter(dispatcher, tracker, domain, "utter_incident_resolved", incident_what=what,
              incident_message=f"{message} " if message else "")
        events: list[EventType] = [SlotSet("incident", None), SlotSet("incident_what", None)]
        reference = entity("reference")
        if reference and reference == tracker.get_slot("ticket_reference"):
            events += [SlotSet("ticket_open", False), SlotSet("agent_active", False)]  # resolved with it
        return events
