"""Rasa's socket.io channel, fixed for python-socketio 5.10+ (what Rasa 3.6.21 installs), and with
messages kept for customers who are away.

Rasa 3.6.21 calls `sio.enter_room(...)` without `await` (RasaHQ/rasa#13027); with python-socketio 5.10+
that call is a coroutine, so the session never joins its room and, with `session_persistence: true`, no
bot message ever reaches the chat window. This channel re-registers the `session_request` handler with the
await. Its name stays `socketio`, so `output_channel=latest` (agent replies from the handoff service) finds
it. Creating the channel also installs the Rasa-process performance fix in `rasa_ext.performance`.

Messages for a conversation whose chat window is closed (an agent's reply, the "resolved" notice sent
through Rasa's HTTP API with output_channel=latest) would be emitted into an empty room and lost. They are
kept in Redis (`{RASA_KEY_PREFIX}:pending:{session}`, 30 days) and replayed, in order, when that session's
widget connects again.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from rasa_ext import degrade, performance
from handoff.masking import mask_payment_data
from rasa_ext.rest_channel import channel_limits, refusal, too_fast_reply, unicode_problem, with_client

logger = logging.getLogger(__name__)


PENDING_TTL_SECONDS = 30 * 24 * 3600


class PendingMessages:
    """Bot messages for sessions with no connected chat window, kept until the window comes back."""

    def __init__(self, redis_url: str | None = None, prefix: str | None = None) -> None:
        self.redis_url = os.environ.get("REDIS_URL", "") if redis_url is None else redis_url
        self.prefix = (os.environ.get("RASA_KEY_PREFIX") or "frontdoor") if prefix is None else prefix
        self._memory: Dict[str, List[Any]] = {}  # only without Redis (a single Rasa process)
        self._client: Any = None

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:pending:{session_id}"

    def _redis(self) -> Any:
        if self._client is None and self.redis_url:
            from redis import asyncio as aioredis  # type: ignore[import-untyped, unused-ignore]

            self._client = aioredis.Redis.from_url(self.redis_url, socket_timeout=2)
        return self._client

    async def keep(self, session_id: str, message: Any) -> None:
        client = self._redis()
        if client is None:
            self._memory.setdefault(session_id, []).append(message)
            return
        key = self._key(session_id)
        await client.rpush(key, json.dumps(message))
        await client.expire(key, PENDING_TTL_SECONDS)

    async def take(self, session_id: str) -> List[Any]:
        client = self._redis()
        if client is None:
            return self._memory.pop(session_id, [])
        key = self._key(session_id)
        pipe = client.pipeline(transaction=True)
        pipe.lrange(key, 0, -1)
        pipe.delete(key)
        raw, _ = await pipe.execute()
        return [json.loads(item) for item in raw]


class KeepingSocketIOOutput(SocketIOOutput):
    """Emits to the session's room; when nobody is in it, keeps the message for the next connect."""

    def __init__(self, sio: Any, bot_message_evt: Text, namespace: Optional[Text], pending: PendingMessages) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace or "/"
        self.pending = pending

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        room = self.sio.manager.rooms.get(self.namespace, {}).get(socket_id)
        if room:
            await super()._send_message(socket_id, response)
            return
        try:
            await self.pending.keep(socket_id, response)
            logger.info("chat window of %s is closed: message kept for its return", socket_id)
        except Exception:  # Redis trouble: fall back to the plain emit, as Rasa would
            logger.exception("could not keep a message for %s", socket_id)
            await super()._send_message(socket_id, response)


class FrontdoorSocketIOInput(SocketIOInput):
    pending: Optional[PendingMessages] = None
    _app: Any = None

    def get_output_channel(self) -> Optional[OutputChannel]:
        if self.sio is None or self.pending is None:
            return super().get_output_channel()
        return KeepingSocketIOOutput(self.sio, self.bot_message_evt, self.namespace, self.pending)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> SocketIOInput:
        performance.install()
        degrade.install()
        return super().from_credentials(credentials)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(degrade.guard(on_new_message))
        sio = self.sio
        assert sio is not None
        pending = self.pending = PendingMessages()

        original = sio.handlers.get(self.namespace or "/", {}).get(self.user_message_evt)
        metadata_key = self.metadata_key

        async def limited_message(sid: Text, data: Any) -> None:
            """The same limits as the REST channel (``refusal``), then the message, masked."""
            message = data.get("message") if isinstance(data, dict) else None
            if not isinstance(message, str) or unicode_problem(data) is not None:
                logger.info("socket.io message without a (valid) text from %s ignored", sid)
                return
            room = data.get("session_id") if self.session_persistence and data.get("session_id") else sid
            agent = getattr(getattr(self._app, "ctx", None), "agent", None)
            limits = channel_limits()
            environ = sio.get_environ(sid, namespace=self.namespace) or {}
            request = environ.get("sanic.request")
            client = limits.client(str(getattr(request, "ip", "") or ""), environ.get("HTTP_X_FORWARDED_FOR"))
            wait = limits.wait_seconds(str(data.get("session_id") or sid), client)
            if wait:
                await sio.emit(self.bot_message_evt, {"text": too_fast_reply(data.get(metadata_key), wait)}, room=room)
                return
            data[metadata_key] = with_client(data.get(metadata_key), client)
            refused = await refusal(agent, str(data.get("session_id") or sid), message, data.get(metadata_key))
            if refused is not None:
                await sio.emit(self.bot_message_evt, {"text": refused}, room=room)
                return
            if original is not None:
                data["message"] = mask_payment_data(message)  # never stored, logged or sent on verbatim
                await original(sid, data)

        if original is not None:
            sio.on(self.user_message_evt, limited_message, namespace=self.namespace)

        @webhook.listener("before_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self._app = app  # for the conversation's tracker (which buttons were offered)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict[str, Any]]) -> None:
            data = data or {}
            if not data.get("session_id"):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, data["session_id"], namespace=self.namespace)
            await sio.emit("session_confirm", data["session_id"], room=sid)
            logger.debug("socket.io session %s confirmed", data["session_id"])
            if self.session_persistence:
                try:
                    missed = await pending.take(data["session_id"])
                except Exception:
                    logger.exception("could not read the kept messages of %s", data["session_id"])
                    missed = []
                for message in missed:  # what the agent wrote while the window was closed
                    await sio.emit(self.bot_message_evt, message, room=data["session_id"])

        return webhook  # type: ignore[no-any-return]  # sanic is untyped here
