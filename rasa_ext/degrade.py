"""The bot degrades politely when the action server cannot be reached (installed by the chat channels).

Rasa 3.6 logs a failed custom action and carries on with no events: the customer gets an empty reply,
and the policies then act on stale slots (a form could start from an old ``kb_result``). With this patch a
custom action that fails because the action server is down, unreachable or answering with an error
returns one apology in the conversation's language and hands the turn back to the customer
(``action_listen``). A failed form validation (``validate_*``) apologises the same way and leaves the
form where it was, so the customer's next message is the answer again; a failed session start falls back
to Rasa's built-in one (the message is then answered, or apologised for, as usual).

When Redis (tracker or lock store) cannot be reached, Rasa would carry on with an empty conversation from
its fail-safe in-memory store (the customer suddenly talks to a bot that forgot everything) or answer
with an empty 200. With this patch the message is not processed: the chat channels (``guard``) reply that
it could not be processed and ask to send it again (the REST channel with HTTP 503 and Retry-After).
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Awaitable, Callable, List

logger = logging.getLogger(__name__)

APOLOGY = {
    "de": "Entschuldigung, gerade habe ich ein technisches Problem. Ihre Nachricht ist gespeichert – bitte "
          "versuchen Sie es in einer Minute noch einmal.",
    "da": "Undskyld, jeg har et teknisk problem lige nu. Din besked er gemt – prøv venligst igen om et minut.",
    "en": "Sorry, I'm having a technical problem right now. Your message is saved – please try again in a "
          "minute.",
}
UNPROCESSED = {
    "de": "Entschuldigung, gerade habe ich ein technisches Problem und konnte Ihre Nachricht nicht verarbeiten. "
          "Bitte senden Sie sie in einer Minute noch einmal.",
    "da": "Undskyld, jeg har et teknisk problem lige nu og kunne ikke behandle din besked. Send den venligst "
          "igen om et minut.",
    "en": "Sorry, I'm having a technical problem right now and could not process your message. Please send it "
          "again in a minute.",
}
RETRY_AFTER_SECONDS = 10
_installed = False


def apology_for(tracker: Any) -> str:
    return APOLOGY.get(str(tracker.get_slot("language")), APOLOGY["en"])


def install() -> None:
    global _installed
    if _installed:
        return
    from rasa.core.actions import action as rasa_action
    from rasa.shared.core.events import BotUttered, FollowupAction
    from rasa.shared.exceptions import RasaException

    original = rasa_action.RemoteAction.run

    async def run(self: rasa_action.RemoteAction, output_channel: Any, nlg: Any, tracker: Any,
                  domain: Any) -> List[Any]:
        try:
            return await original(  # type: ignore[no-any-return]  # rasa is untyped
                self, output_channel, nlg, tracker, domain)
        except RasaException:
            name = self.name()
            if name == "action_session_start":  # Rasa's own session start (it carries the slots over)
                logger.error("custom session start failed (action server down?) for %s", tracker.sender_id)
                return list(await rasa_action.ActionSessionStart().run(output_channel, nlg, tracker, domain))
            logger.error("custom action %s failed (action server down?): apologising to %s", name,
                         tracker.sender_id)
            if name.startswith("validate_"):  # the form asks its question again; nothing is filled
                return [BotUttered(apology_for(tracker))]
            return [BotUttered(apology_for(tracker)), FollowupAction("action_listen")]

    rasa_action.RemoteAction.run = run
    _no_empty_fallback()
    _installed = True
    logger.info("installed the polite fallback for failed custom actions")


class ConversationStoreUnavailable(RuntimeError):
    """The conversation could not be loaded or saved (Redis unreachable); the message is not processed."""


def _no_empty_fallback() -> None:
    """Rasa's FailSafeTrackerStore answers a failed load with "no such conversation" and keeps the result
    in memory. For this project's Redis store, raise instead (the channels tell the customer to resend)."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    from rasa_ext.tracker_store import BoundedRedisTrackerStore

    retrieve, save = FailSafeTrackerStore.retrieve, FailSafeTrackerStore.save

    async def strict_retrieve(self: FailSafeTrackerStore, sender_id: str) -> Any:
        if not isinstance(self._tracker_store, BoundedRedisTrackerStore):
            return await retrieve(self, sender_id)
        try:
            return await self._tracker_store.retrieve(sender_id)
        except Exception as exc:
            raise ConversationStoreUnavailable(f"conversation store: {type(exc).__name__}") from exc

    async def strict_save(self: FailSafeTrackerStore, tracker: Any) -> None:
        if not isinstance(self._tracker_store, BoundedRedisTrackerStore):
            await save(self, tracker)
            return
        try:
            await self._tracker_store.save(tracker)
        except Exception as exc:
            raise ConversationStoreUnavailable(f"conversation store: {type(exc).__name__}") from exc

    FailSafeTrackerStore.retrieve = strict_retrieve
    FailSafeTrackerStore.save = strict_save


def unprocessed_reply(metadata: Any) -> str:
    lang = metadata.get("language") if isinstance(metadata, dict) else None
    return UNPROCESSED.get(str(lang), UNPROCESSED["en"])


def guard(on_new_message: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    """Wrap a channel's message handler: a message that fails (Redis down, the lock store, a bug) gets a
    reply asking to send it again, instead of Rasa's silent empty answer. Sets ``FAILED`` for the REST
    channel's status code."""

    async def handle(message: Any) -> Any:
        try:
            return await on_new_message(message)
        except Exception as exc:
            logger.error("message of %s not processed: %s", message.sender_id, type(exc).__name__)
            FAILED.set(True)
            channel = message.output_channel
            if isinstance(getattr(channel, "messages", None), list):
                channel.messages.clear()  # half a turn's replies would only confuse
            try:
                await channel.send_text_message(message.sender_id, unprocessed_reply(message.metadata))
            except Exception:
                logger.exception("could not tell %s to resend", message.sender_id)
            return None

    return handle


FAILED: contextvars.ContextVar[bool] = contextvars.ContextVar("frontdoor_message_failed", default=False)
