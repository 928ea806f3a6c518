"""Hand the conversation to a human: create the pre-qualified ticket in the handoff service."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.customer import language_of
from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable
from bot.contract import CreateTicketRequest, Customer

logger = logging.getLogger(__name__)


def customer_of(tracker: Tracker) -> Customer:
    customer: Customer = {"verified": bool(tracker.get_slot("customer_verified"))}
    for field, slot in (("id", "customer_id"), ("name", "customer_name"), ("email", "customer_email"),
                        ("tier", "customer_tier")):
        value = tracker.get_slot(slot)
        if value:
            customer[field] = value  # type: ignore[literal-required]
    return customer


def transcript_of(tracker: Tracker) -> list[dict[str, Any]]:
    turns = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            turns.append({"sender": "customer", "text": event["text"], "timestamp": event.get("timestamp", 0.0)})
        elif event.get("event") == "bot" and event.get("text"):
            turns.append({"sender": "bot", "text": event["text"], "timestamp": event.get("timestamp", 0.0)})
    return turns


class ActionRequestHuman(Action):
    def __init__(self, client: HandoffClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> HandoffClient:
        if self._client is None:
            self._client = HandoffClient.from_env()
        return self._client

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        customer_texts = [t["text"] for t in transcript_of(tracker) if t["sender"] == "customer"]
        request: CreateTicketRequest = {
            "conversation_id": tracker.sender_id,
            "channel": (tracker.get_latest_input_channel() or "rest"),
            "language": language_of(tracker),
            "customer": customer_of(tracker),
            "description": " / ".join(customer_texts[-5:]) or "(no description)",
            "requested_human": True,
            "transcript": transcript_of(tracker),  # type: ignore[typeddict-item]
        }
        try:
            created = await self.client.create_ticket(request)
        except HandoffUnavailable:
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return []
        except HandoffRejected as exc:
            logger.error("handoff rejected the ticket for %s: %s", tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return []
        dispatcher.utter_message(response="utter_ticket_created", reference=created["reference"],
                                 queue=created["queue"], minutes=created["expected_first_response_minutes"])
        return [SlotSet("ticket_reference", created["reference"])]
