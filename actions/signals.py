"""What the bot did with a customer's problem, reported to the handoff service (``POST /api/v1/bot/signals``):
answered from the knowledge base, two candidates offered, nothing fitted, declined as another company's
matter, and the customer's "helped" / "did not help". The handoff service turns them into analytics
(deflection, votes), KB gaps (unanswered questions grouped by meaning: the question's sentence embedding
goes with it) and incident reports. Sent after the reply, in the background, once: a lost signal costs a
figure, never the customer's conversation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Tracker

from actions.customer import language_of
from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable, UsesHandoff

logger = logging.getLogger(__name__)

KINDS = ("kb_answered", "kb_ambiguous", "kb_no_answer", "kb_feedback", "declined")
MAX_TEXT = 2000

Embedder = Callable[[], Awaitable[str | None]]


class Signals(UsesHandoff):
    _tasks: set[asyncio.Task[None]] = set()  # the running sends (kept referenced until done)

    def __init__(self, client: HandoffClient | None = None) -> None:
        super().__init__(client)

    def send(self, tracker: Tracker, kind: str, *, text: str = "", embedding: str | None = None,
             embed: Embedder | None = None, **fields: Any) -> None:
        """Report one signal of this conversation in the background. ``embed`` computes the embedding
        there when it is not at hand (a "did not help" refers to an earlier question)."""
        assert kind in KINDS, kind
        signal: dict[str, Any] = {"type": kind, "conversation_id": tracker.sender_id,
                                  "language": language_of(tracker), "at": time.time()}
        if text:
            signal["text"] = text[:MAX_TEXT]
        signal.update({k: v for k, v in fields.items() if v not in (None, "")})
        task = asyncio.get_running_loop().create_task(self._post(signal, embedding, embed))
        Signals._tasks.add(task)
        task.add_done_callback(Signals._tasks.discard)

    async def _post(self, signal: dict[str, Any], embedding: str | None, embed: Embedder | None) -> None:
        try:
            if embedding is None and embed is not None:
                embedding = await embed()
            if embedding:
                signal["embedding"] = embedding
            await self.client.signals([signal])
        except (HandoffUnavailable, HandoffRejected) as exc:
            logger.warning("signal %s of %s not recorded: %s", signal["type"], signal["conversation_id"], exc)
        except Exception:  # never let a report break anything else
            logger.exception("signal %s of %s failed", signal["type"], signal["conversation_id"])

    @classmethod
    async def drain(cls) -> None:
        """Wait for the sends under way (tests; shutdown)."""
        while cls._tasks:
            await asyncio.gather(*list(cls._tasks), return_exceptions=True)
