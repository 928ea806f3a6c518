"""Rasa's REST channel with the limits of a public endpoint (its name stays ``rest``, so the URL stays
``/webhooks/rest/webhook``).

- A body that is not a JSON object with a text ``sender`` and a text ``message``, or that holds a lone
  UTF-16 surrogate, gets 400 with the reason (Rasa's own handler answers 500 or crashes on them).
- A message longer than ``MAX_MESSAGE_CHARS`` is not processed: the reply says so in the page's language
  (the socket.io channel does the same), so no single message can occupy the bot for everyone.
- A payload (a message starting with "/", which Rasa reads as an intent with entities) is accepted only
  when the bot offered it as a button in this conversation's latest turns, or it is the chat widget's
  opening payload. Typed by hand it could rate and close another customer's ticket
  (``/rate{"ticket_reference": ...}``), pose as an agent (``/agent_message``) or open tickets in a loop
  (``/EXTERNAL_retry_ticket``); internal intents reach the bot only through Rasa's authenticated HTTP API.
- Each client address and each conversation may send only so many messages a minute (``bot.ratelimit``;
  ``FRONTDOOR_CLIENT_MESSAGES_PER_MINUTE``, ``FRONTDOOR_CONVERSATION_MESSAGES_PER_MINUTE``, 0 = off):
  beyond that the reply asks to wait (HTTP 429 with Retry-After on REST). Behind a reverse proxy the
  address comes from X-Forwarded-For, trusted only from ``FRONTDOOR_TRUSTED_PROXIES`` (default loopback).
  The channel also writes the client's pseudonym into the message metadata (``frontdoor_client``,
  overwriting whatever the client sent), which the ticket request carries: the handoff service limits
  the tickets one client may open.
- Card numbers and IBANs are masked in the message before Rasa sees it, so they are never stored in the
  tracker, written to Rasa's log or sent to the action server (``handoff.masking.mask_payment_data``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response

from bot.ratelimit import LOOPBACK, Limit, RateLimiter, client_address, client_key
from handoff.masking import mask_payment_data
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


NOT_OFFERED = {
    "de": "Diese Auswahl kann ich hier nicht verwenden. Nutzen Sie bitte die angezeigten Schaltflächen oder "
          "schreiben Sie Ihr Anliegen einfach als Text.",
    "da": "Det valg kan jeg ikke bruge her. Brug venligst knapperne, eller skriv bare din besked som tekst.",
    "en": "I can't use that choice here. Please use the buttons shown, or just type your message.",
}
TOO_FAST = {
    "de": "Sie senden Nachrichten schneller, als ich antworten kann. Bitte warten Sie {seconds} Sekunden und "
          "versuchen Sie es dann noch einmal.",
    "da": "Du sender beskeder hurtigere, end jeg kan svare. Vent venligst {seconds} sekunder, og prøv så igen.",
    "en": "You are sending messages faster than I can answer. Please wait {seconds} seconds and try again.",
}
CLIENT_METADATA_KEY = "frontdoor_client"


class ChannelLimits:
    """The message limits of the public channels (one table per process, shared by both channels)."""

    def __init__(self, per_client: Limit, per_conversation: Limit, trusted_proxies: str, secret: str) -> None:
        self.clients = RateLimiter(per_client)
        self.conversations = RateLimiter(per_conversation)
        self.trusted_proxies = trusted_proxies
        self.secret = secret

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ChannelLimits":
        def limit(name: str, default: float) -> Limit:
            per_minute = float(env.get(name) or default)
            return Limit(per_minute, max(1, int(per_minute / 2)))

        return cls(limit("FRONTDOOR_CLIENT_MESSAGES_PER_MINUTE", 120),
                   limit("FRONTDOOR_CONVERSATION_MESSAGES_PER_MINUTE", 40),
                   env.get("FRONTDOOR_TRUSTED_PROXIES") or LOOPBACK,
                   env.get("FRONTDOOR_TOKEN_SECRET") or env.get("RASA_TOKEN") or "frontdoor")

    def client(self, peer: str, forwarded_for: Optional[str]) -> Optional[str]:
        """The client's pseudonym, or None for a request from this machine (see ``client_address``)."""
        address = client_address(peer, forwarded_for, self.trusted_proxies)
        return None if address is None else client_key(address, self.secret)

    def wait_seconds(self, sender_id: str, client: Optional[str], now: Optional[float] = None) -> int:
        """0 when the message may go on, else the seconds to wait (the message counts against both)."""
        now = time.monotonic() if now is None else now
        if client is not None and not self.clients.allow(client, now):
            return self.clients.retry_after(client)
        if not self.conversations.allow(sender_id, now):
            return self.conversations.retry_after(sender_id)
        return 0


_limits: Optional[ChannelLimits] = None


def channel_limits() -> ChannelLimits:
    """The process' limits, read from the environment the first time a channel asks."""
    global _limits
    if _limits is None:
        _limits = ChannelLimits.from_env(os.environ)
    return _limits


def too_fast_reply(metadata: Any, seconds: int) -> str:
    return TOO_FAST[_lang(metadata)].format(seconds=seconds)


def with_client(metadata: Any, client: Optional[str]) -> Dict[str, Any]:
    """The message metadata with the channel's own client pseudonym (never the one a client sent)."""
    result = dict(metadata) if isinstance(metadata, dict) else {}
    result.pop(CLIENT_METADATA_KEY, None)
    if client is not None:
        result[CLIENT_METADATA_KEY] = client
    return result


# what the chat widget itself sends when it opens (web/site/static/site.js: initPayload)
WIDGET_PAYLOADS = frozenset({"/session_greet"})


def _lang(metadata: Any) -> str:
    lang = metadata.get("language") if isinstance(metadata, dict) else None
    return lang if isinstance(lang, str) and lang in TOO_LONG else "en"  # not hashable: [], {}


def not_offered_reply(metadata: Any) -> str:
    return NOT_OFFERED[_lang(metadata)]


async def payload_allowed(agent: Any, sender_id: str, message: str) -> bool:
    """Is ``message`` plain text, the widget's opening payload, or a button the bot offered in this
    conversation since the customer's previous message (the latest two bot turns)? Read as Rasa reads it:
    stripped (UserMessage), so " /rate{...}" is a payload too."""
    message = message.strip()
    if not message.startswith("/") or message in WIDGET_PAYLOADS:
        return True
    from rasa.shared.core.events import BotUttered, UserUttered

    store = getattr(agent, "tracker_store", None)
    tracker = await store.retrieve(sender_id) if store is not None else None
    if tracker is None:
        return False
    users = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            users += 1
            if users >= 2:
                break
        elif isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or []:
                if isinstance(button, dict) and str(button.get("payload")) == message:
                    return True
    return False


async def refusal(agent: Any, sender_id: str, message: str, metadata: Any) -> Optional[str]:
    """The reply that refuses ``message`` on a public channel (too long, or a payload the bot did not
    offer), or None when the bot may read it. Both chat channels ask this."""
    if len(message) > MAX_MESSAGE_CHARS:
        return too_long_reply(metadata)
    if not await payload_allowed(agent, sender_id, message):
        return not_offered_reply(metadata)
    return None


def too_long_reply(metadata: Any) -> str:
    return TOO_LONG[_lang(metadata)].format(limit=f"{MAX_MESSAGE_CHARS:,}")


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
    return unicode_problem(body)


def unicode_problem(value: Any) -> Optional[str]:
    """Why ``value`` cannot go on to Rasa although it parsed, or None: a lone UTF-16 surrogate ("\\ud800"),
    which no tokenizer or Redis key takes (Rasa failed on it), or nesting deeper than Python recurses."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "the body contains text that is not valid Unicode (a lone surrogate)"
    except RecursionError:
        return "the body is nested too deeply"
    return None


class FrontdoorRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> RestInput:
        from rasa_ext import degrade, performance

        performance.install()
        degrade.install()
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        from rasa_ext import degrade

        webhook = super().blueprint(degrade.guard(on_new_message))

        @webhook.middleware("response")
        async def unprocessed(request: Request, resp: response.HTTPResponse) -> Optional[response.HTTPResponse]:
            if degrade.FAILED.get():  # the message was not processed: say so with the status too
                return response.raw(resp.body, status=503, content_type="application/json",
                                    headers={"Retry-After": str(degrade.RETRY_AFTER_SECONDS)})
            return None

        @webhook.middleware("request")
        async def check(request: Request) -> Optional[response.HTTPResponse]:
            degrade.FAILED.set(False)
            if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
                return None
            try:
                body = request.json
            except Exception:  # Sanic raises on bodies that are not JSON
                return response.json({"error": "the body is not valid JSON"}, status=400)
            problem = request_problem(body)
            if problem is not None:
                return response.json({"error": problem}, status=400)
            limits = channel_limits()
            client = limits.client(request.ip, request.headers.get("x-forwarded-for"))
            wait = limits.wait_seconds(body["sender"], client)
            if wait:
                reply_429 = {"recipient_id": body["sender"], "text": too_fast_reply(body.get("metadata"), wait)}
                return response.json([reply_429], status=429, headers={"Retry-After": str(wait)})
            body["metadata"] = with_client(body.get("metadata"), client)
            refused = await refusal(request.app.ctx.agent, body["sender"], body["message"], body.get("metadata"))
            if refused is not None:
                reply: Dict[str, Any] = {"recipient_id": body["sender"], "text": refused}
                return response.json([reply], status=200)
            body["message"] = mask_payment_data(body["message"])  # request.json is this same dict
            return None

        return webhook  # type: ignore[no-any-return]  # sanic is untyped here
