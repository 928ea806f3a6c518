"""Helpers shared by the handoff tests (importable as `handoff_helpers`)."""

from __future__ import annotations

from pathlib import Path

BOT = "bot-secret"
AGENT = "agent-token"
AGENT2 = "agent2-token"
LEAD = "lead-token"
ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, now: float = 1_764_000_000.0) -> None:  # a Monday, 2025-11-24 16:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bot_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {BOT}"}


def agent_headers(token: str = AGENT) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def payload(conversation_id: str = "conv-1", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "schema_version": 1,
        "conversation_id": conversation_id,
        "channel": "socketio",
        "language": "en",
        "customer": {"id": "cust-1", "name": "Ada Lovelace", "email": "ada@example.com", "verified": True,
                     "tier": "standard"},
        "category": "technical",
        "tags": ["playback"],
        "product": "Streamly app",
        "description": "The app shows error E42 when I start a film. My card 4111 1111 1111 1111 was charged.",
        "error_code": "E42",
        "impact": "only_me",
        "urgency": "normal",
        "steps_tried": ["restarted the app"],
        "articles_shown": [{"id": "tech-playback-errors", "lang": "en", "title": "Playback errors",
                            "feedback": "did_not_help"}],
        "frustrated": False,
        "requested_human": True,
        "transcript": [
            {"sender": "customer", "text": "my password: hunter2 does not matter", "timestamp": 1.0},
            {"sender": "bot", "text": "Try restarting", "timestamp": 2.0},
        ],
    }
    body.update(overrides)
    return body
