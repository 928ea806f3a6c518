"""What the action tests share: the domain, a tracker builder, a handoff client that records what it is
asked, and the text the bot said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_client import HandoffUnavailable
from bot.contract import CreateTicketRequest, TicketCreated, TicketStatusView

ROOT = Path(__file__).resolve().parents[1]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text())


def tracker(slots: dict[str, Any] | None = None, text: str = "", intent: str = "describe_problem",
            entities: list[dict[str, Any]] | None = None, events: list[dict[str, Any]] | None = None,
            sender: str = "conv-1") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []}
    return Tracker(sender, dict(slots or {}), latest, list(events or []), False, None, {}, "action_listen")


class FakeHandoff:
    def __init__(self, fail: bool = False, incidents: list[dict[str, Any]] | None = None) -> None:
        self.fail = fail
        self.created: list[CreateTicketRequest] = []
        self.asked_customer: list[str] = []
        self.asked_secret: list[str] = []
        self.incidents = list(incidents or [])  # open incidents: {"id", "title", "status", "keys"}
        self.linked: list[tuple[str, str, str, str]] = []  # (incident, conversation, language, reference)
        self.unlinked: list[tuple[str, str]] = []
        self.sent_signals: list[dict[str, Any]] = []

    async def open_incidents(self) -> list[dict[str, Any]]:
        if self.fail:
            raise HandoffUnavailable("down")
        return [i for i in self.incidents if i.get("status") in ("open", "confirmed")]

    async def link_incident(self, incident_id: str, conversation_id: str, language: str,
                            reference: str = "") -> dict[str, Any]:
        self.linked.append((incident_id, conversation_id, language, reference))
        return next(i for i in self.incidents if i["id"] == incident_id)

    async def unlink_incident(self, incident_id: str, conversation_id: str) -> None:
        self.unlinked.append((incident_id, conversation_id))

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        return next((i for i in self.incidents if i["id"] == incident_id), None)

    async def signals(self, signals: list[dict[str, Any]]) -> None:
        if self.fail:
            raise HandoffUnavailable("down")
        self.sent_signals.extend(signals)

    async def create_ticket(self, request: CreateTicketRequest) -> TicketCreated:
        if self.fail:
            raise HandoffUnavailable("down")
        self.created.append(request)
        return {"reference": "T-000042", "secret_reference": "S-secret", "queue": "billing", "tier": 2,
                "priority": "P3", "status": "queued", "first_response_due": 0.0,
                "expected_first_response_minutes": 45, "created": True}

    async def customer_tickets(self, customer_id: str) -> list[TicketStatusView]:
        self.asked_customer.append(customer_id)
        return [{"reference": "T-000042", "status": "queued", "queue": "billing", "priority": "P3",
                 "queue_position": 2, "expected_wait_minutes": 12, "agent_replies": [], "updated_at": 0.0}]

    async def status_by_secret(self, secret: str) -> TicketStatusView | None:
        self.asked_secret.append(secret)
        return None

    async def ticket_for_conversation(self, conversation_id: str) -> TicketStatusView | None:
        return None



def texts(dispatcher: CollectingDispatcher) -> str:
    return " ".join(m.get("text") or "" for m in dispatcher.messages)


