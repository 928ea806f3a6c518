"""Who the customer is and which language they speak, from the channel's metadata.

The website sends `customData` = {"language": "de", "auth_token": "<signed identity>"}; Rasa puts it into
the message metadata (and, for a new session, into the `session_started_metadata` slot).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from bot.contract import LANGUAGES
from bot.identity import InvalidIdentityToken, verify
from actions.settings import action_settings

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"


def metadata_of(tracker: Tracker) -> dict[str, Any]:
    metadata = dict(tracker.get_slot("session_started_metadata") or {})
    latest = (tracker.latest_message or {}).get("metadata") or {}
    metadata.update(latest)
    return metadata


def language_of(tracker: Tracker) -> str:
    """The conversation's language; before one is set, the best guess from the latest message."""
    lang = tracker.get_slot("language")
    if lang in LANGUAGES:
        return str(lang)
    guess = (tracker.latest_message or {}).get("language_guess")
    return guess if guess in LANGUAGES else DEFAULT_LANGUAGE


def language_events(tracker: Tracker) -> list[SlotSet]:
    """Pin the guessed language into the slot when the conversation has none yet."""
    if tracker.get_slot("language") in LANGUAGES:
        return []
    return [SlotSet("language", language_of(tracker))]


class IdentityVerifier:
    """Turns a signed website token into customer slots; an invalid token is ignored (and logged)."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = action_settings().token_secret if secret is None else secret

    def slots_from(self, metadata: dict[str, Any]) -> list[SlotSet]:
        token = metadata.get("auth_token")
        if not isinstance(token, str) or not token:
            return []
        try:
            identity = verify(token, self.secret)
        except InvalidIdentityToken as exc:
            logger.warning("ignoring customer token: %s", exc)
            return []
        return [SlotSet("customer_id", identity.id), SlotSet("customer_name", identity.name),
                SlotSet("customer_email", identity.email), SlotSet("customer_tier", identity.tier),
                SlotSet("customer_verified", True)]


def language_from_metadata(metadata: dict[str, Any]) -> str | None:
    lang = metadata.get("language")
    return lang if isinstance(lang, str) and lang in LANGUAGES else None
