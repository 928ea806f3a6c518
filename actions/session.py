"""A new conversation: take the page language and the signed identity from the website's metadata."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.respond import utter
from actions.customer import IdentityVerifier, language_events, language_from_metadata, metadata_of


# What a new session (after SESSION_EXPIRATION minutes without a message, domain.yml) keeps: who the
# customer is, their language and contact address, their ticket and whether an agent has the
# conversation. The rest (the last question, the form's answers, the articles shown) belongs to the
# earlier problem: a returning customer starts afresh, and the ticket keeps what they said then.
CARRIED_OVER = (
    "language", "customer_id", "customer_name", "customer_email", "customer_tier", "customer_verified",
    "contact_email", "ticket_reference", "ticket_secret", "ticket_pending", "ticket_open", "agent_active",
    "agent_name",
)


class ActionSessionStart(Action):
    def __init__(self, verifier: IdentityVerifier | None = None) -> None:
        self._verifier = verifier

    @property
    def verifier(self) -> IdentityVerifier:
        if self._verifier is None:
            self._verifier = IdentityVerifier()
        return self._verifier

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        # carry over what must survive (identity, language, open ticket, the agent's conversation)
        for key, value in tracker.current_slot_values().items():
            if value is not None and key in CARRIED_OVER:
                events.append(SlotSet(key, value))
        metadata = metadata_of(tracker)
        lang = language_from_metadata(metadata)
        if lang:
            events.append(SlotSet("language", lang))
        events.extend(self.verifier.slots_from(metadata))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(Action):
    """Greets by name when the website told us who the customer is."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        name = tracker.get_slot("customer_name")
        first = str(name).split()[0] if name else ""
        events = language_events(tracker)
        # responses are chosen by the slot: pin the language before the greeting is rendered
        utter(dispatcher, tracker, domain, "utter_greet", name_suffix=f" {first}" if first else "")
        return events
