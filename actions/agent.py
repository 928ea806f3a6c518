"""While an agent owns the conversation the bot relays, and stays quiet; it takes over when resolved.

The handoff service triggers `agent_message` (entities agent_text, agent_name) and `ticket_resolved`
(entity reference) through Rasa's HTTP API with output_channel=latest, so the reply lands in the chat
window the customer has open. Customer messages meanwhile go to the ticket (a policy in rasa_ext
predicts `action_forward_to_agent` while `agent_active` is set).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.respond import utter

from actions.handoff import AGENT_FALLBACK_NAME, HandoffAction
from actions.handoff_client import HandoffRejected, HandoffUnavailable

logger = logging.getLogger(__name__)


def entity(tracker: Tracker, name: str) -> Any:
    return next((e.get("value") for e in (tracker.latest_message or {}).get("entities", [])
                 if e.get("entity") == name), None)


class ActionRelayAgentMessage(Action):
    def name(self) -> str:
        return "action_relay_agent_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = entity(tracker, "agent_text") or ""
        agent = entity(tracker, "agent_name") or AGENT_FALLBACK_NAME
        if text:
            utter(dispatcher, tracker, domain, "utter_agent_message", agent_name=agent, agent_text=text)
        return [SlotSet("agent_active", True), SlotSet("agent_name", agent)]


class ActionForwardToAgent(HandoffAction):
    """A customer message while an agent owns the conversation: add it to the ticket, say nothing."""

    def name(self) -> str:
        return "action_forward_to_agent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        latest = tracker.latest_message or {}
        text = latest.get("text") or ""
        if text:
            try:
                await self.client.customer_message(tracker.sender_id, text)
            except (HandoffUnavailable, HandoffRejected):
                logger.warning("customer message of %s not forwarded to the ticket", tracker.sender_id)
        return []


class ActionTicketResolved(Action):
    def name(self) -> str:
        return "action_ticket_resolved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        reference = entity(tracker, "reference") or tracker.get_slot("ticket_reference") or ""
        utter(dispatcher, tracker, domain, "utter_ticket_resolved", reference=reference)
        return [SlotSet("agent_active", False), SlotSet("ticket_open", False), SlotSet("failed_answers", 0.0),
                SlotSet("frustrated", False),
                SlotSet("requested_human", False), SlotSet("kb_articles_shown", []), SlotSet("description", None),
                SlotSet("category", None)]
