"""The one client of Rasa's HTTP API outside Rasa: `trigger_intent` into a customer's conversation (best
effort). The handoff service delivers agent messages and hand-back signals with it, the action server
tells a customer the reference of a ticket that was parked while the handoff service was down."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)


class RasaNotifier:
    def __init__(self, http: aiohttp.ClientSession, rasa_url: str, token: str | None = None) -> None:
        self.http = http
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token

    async def trigger(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> bool:
        """POST /conversations/{id}/trigger_intent; True when Rasa accepted it."""
        url = f"{self.rasa_url}/conversations/{quote(conversation_id, safe='')}/trigger_intent"
        params = {"output_channel": "latest"}
        if self.token:
            params["token"] = self.token
        try:
            async with self.http.post(url, params=params, json={"name": intent, "entities": entities}) as resp:
                ok = 200 <= resp.status < 300
                if not ok:
                    logger.warning("rasa refused %s for conversation %s: HTTP %s", intent, conversation_id,
                                   resp.status)
                return ok
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning("rasa unreachable for %s (conversation %s): %s", intent, conversation_id,
                           type(exc).__name__)
            return False
