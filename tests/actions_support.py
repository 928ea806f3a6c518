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
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.created: list[CreateTicketRequest] = []
        self.asked_customer: list[str] = []
        self.asked_secret: list[str] = []

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


