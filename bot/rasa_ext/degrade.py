"""The bot degrades politely when the action server cannot be reached (installed by the chat channels).

Rasa 3.6 logs a failed custom action and carries on with no events: the customer gets an empty reply,
and the policies then act on stale slots (a form could start from an old ``kb_result``). With this patch a
custom action that fails because the action server is down, unreachable or answering with an error
returns one apology in the conversation's language and hands the turn back to the customer
(``action_listen``). Form validations (``validate_*``) and the session start keep Rasa's own handling.
"""

from __future__ import annotations

import logging
from typing import Any, List

logger = logging.getLogger(__name__)

APOLOGY = {
    "de": "Entschuldigung, gerade habe ich ein technisches Problem. Ihre Nachricht ist gespeichert – bitte "
          "versuchen Sie es in einer Minute noch einmal.",
    "da": "Undskyld, jeg har et teknisk problem lige nu. Din besked er gemt – prøv venligst igen om et minut.",
    "en": "Sorry, I'm having a technical problem right now. Your message is saved – please try again in a "
          "minute.",
}
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
            return await original(self, output_channel, nlg, tracker, domain)
        except RasaException:
            name = self.name()
            if name.startswith("validate_") or name == "action_session_start":
                raise
            logger.error("custom action %s failed (action server down?): apologising to %s", name,
                         tracker.sender_id)
            return [BotUttered(apology_for(tracker)), FollowupAction("action_listen")]

    rasa_action.RemoteAction.run = run  # type: ignore[method-assign]
    _installed = True
    logger.info("installed the polite fallback for failed custom actions")
