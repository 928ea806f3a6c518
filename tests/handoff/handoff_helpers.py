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
