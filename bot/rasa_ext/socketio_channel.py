"""Rasa's socket.io channel, fixed for python-socketio 5.10+ (what Rasa 3.6.21 installs).

Rasa 3.6.21 calls `sio.enter_room(...)` without `await` (RasaHQ/rasa#13027); with python-socketio 5.10+
that call is a coroutine, so the session never joins its room and, with `session_persistence: true`, no
bot message ever reaches the chat window. This channel re-registers the `session_request` handler with the
await. Its name stays `socketio`, so `output_channel=latest` (agent replies from the handoff service) finds
it. Creating the channel also installs the Rasa-process performance fix in `bot.rasa_ext.performance`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.rasa_ext import performance

logger = logging.getLogger(__name__)


class FrontdoorSocketIOInput(SocketIOInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> SocketIOInput:
        performance.install()
        return super().from_credentials(credentials)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data or {}
            if not data.get("session_id"):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, data["session_id"], namespace=self.namespace)
            await sio.emit("session_confirm", data["session_id"], room=sid)
            logger.debug("socket.io session %s confirmed", data["session_id"])

        return webhook
