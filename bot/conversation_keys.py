"""Where a conversation's history lives in Redis (framework-free: the Rasa server's tracker store writes it,
the action server reads the full transcript from it).

  {prefix}:conv:{sender}:events   list of Rasa events as JSON, append-only: the whole history, every session
  {prefix}:conv:{sender}:meta     hash: n (events stored), session_start (index of the latest session's
                                  first event), texts (customer and bot messages stored), checkpoints
                                  (JSON list of [index, texts before it, time]) and cp:{index} (the
                                  conversation's state at that index: slots and active form, as JSON)

A checkpoint's slots include ``SAID_SLOT``: what the customer typed in the session before it (the latest
``SAID_LIMIT`` messages). A tracker loaded from a checkpoint has it, so what the customer said before the
loaded tail still counts (the action server reads it with the tail's messages).
"""

from __future__ import annotations

SAID_SLOT = "customer_said"
SAID_LIMIT = 40


def events_key(prefix: str, sender_id: str) -> str:
    return f"{prefix}:conv:{sender_id}:events"


def meta_key(prefix: str, sender_id: str) -> str:
    return f"{prefix}:conv:{sender_id}:meta"


def transcript_from_events(events: list[dict[str, object]], limit: int = 60) -> list[dict[str, object]]:
    """The customer's and the bot's messages (button payloads left out), the latest ``limit``."""
    turns: list[dict[str, object]] = []
    for event in events:
        text = event.get("text")
        kind = event.get("event")
        if not text or str(text).startswith("/") or kind not in ("user", "bot"):
            continue
        turns.append({"sender": "customer" if kind == "user" else "bot", "text": text,
                      "timestamp": float(event.get("timestamp") or 0)})  # type: ignore[arg-type]
    return turns[-limit:]
