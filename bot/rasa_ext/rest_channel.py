"""Rasa's REST channel with the limits of a public endpoint (its name stays ``rest``, so the URL stays
``/webhooks/rest/webhook``).

- A body that is not a JSON object with a text ``sender`` and a text ``message`` gets 400 with the
  reason (Rasa's own handler answers 500 or crashes on them).
- A message longer than ``MAX_MESSAGE_CHARS`` is not processed: the reply says so in the page's language
  (the socket.io channel does the same), so no single message can occupy the bot for everyone.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

MAX_MESSAGE_CHARS = 4000
MAX_SENDER_CHARS = 200
TOO_LONG = {
    "de": "Ihre Nachricht ist zu lang (mehr als {limit} Zeichen). Beschreiben Sie Ihr Anliegen bitte in ein paar "
          "Sätzen – Details kann unser Team später nachfragen.",
    "da": "Din besked er for lang (mere end {limit} tegn). Beskriv venligst dit problem med et par sætninger – "
          "vores team kan spørge ind til detaljerne bagefter.",
    "en": "Your message is too long (more than {limit} characters). Please describe your problem in a few "
          "sentences – our team can ask for details later.",
}


def too_long_reply(metadata: Any) -> str:
    lang = metadata.get("language") if isinstance(metadata, dict) else None
    return TOO_LONG.get(str(lang), TOO_LONG["en"]).format(limit=f"{MAX_MESSAGE_CHARS:,}")


def request_problem(body: Any) -> Optional[str]:
    """Why a webhook body cannot be a customer's message, or None when it can."""
    if not isinstance(body, dict):
        return "the body must be a JSON object with 'sender' and 'message'"
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return f"'sender' must be a non-empty text of at most {MAX_SENDER_CHARS} characters"
    if not isinstance(message, str):
        return "'message' must be a text"
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "'metadata' must be a JSON object"
    return None


class FrontdoorRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def check(request: Request) -> Optional[response.HTTPResponse]:
            if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
                return None
            try:
                body = request.json
            except Exception:  # Sanic raises on bodies that are not JSON
                return response.json({"error": "the body is not valid JSON"}, status=400)
            problem = request_problem(body)
            if problem is not None:
                return response.json({"error": problem}, status=400)
            if len(body["message"]) > MAX_MESSAGE_CHARS:
                reply: Dict[str, Any] = {"recipient_id": body["sender"], "text": too_long_reply(body.get("metadata"))}
                return response.json([reply], status=200)
            return None

        return webhook
