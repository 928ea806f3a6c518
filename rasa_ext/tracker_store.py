"""A Redis tracker store whose cost per message does not grow with the conversation.

Rasa 3.6's ``RedisTrackerStore`` keeps a conversation as one JSON value: every message reads and parses
all of it, replays every event (twice: once to split the sessions), reads it again to merge, and writes
all of it back; the policies and the action server then get the whole session. A conversation of 200
messages costs ten times what a new one costs.

``BoundedRedisTrackerStore`` (layout in ``bot.conversation_keys``):

- saves by appending only the events a turn added (RPUSH), never rewriting the history;
- every ``checkpoint_every`` events it also stores the conversation's state at that point (slot values,
  the active form), so that loading needs only the tail: the state at a checkpoint at least
  ``min_tail`` events back, as SlotSet/ActiveLoop events, then the events since. The policies and the
  actions see the recent turns in full and the state exactly as if the whole history had been replayed;
  the cost is bounded by ``min_tail + checkpoint_every`` events, whatever the length (the ticket's
  transcript, which goes further back, is read from the history by the action server);
- ``retrieve`` gives the latest session (from its start, or from such a checkpoint when the session is
  long); ``retrieve_full_tracker`` (Rasa's HTTP API ``/conversations/{id}/tracker``, used by the agents'
  tools and the tests) gives every event of every session;
- a conversation stored by Rasa's own Redis store (the value under ``{prefix}:tracker:{id}``) is read once
  and moved into this layout, so an upgrade loses nothing.

The full history stays in Redis (it expires ``record_exp`` seconds after the last message, like Rasa's).
Configure it in the endpoints file (the keys of Rasa's ``type: redis``)::

    tracker_store:
      type: rasa_ext.tracker_store.BoundedRedisTrackerStore
      url: ...   # host, port, db, password, key_prefix, record_exp as for Rasa's store
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActionExecutionRejected, ActiveLoop, BotUttered, Event, LoopInterrupted, SessionStarted, SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation_keys import SAID_LIMIT, SAID_SLOT, events_key, meta_key

logger = logging.getLogger(__name__)

# events loaded in full before the latest turn (recent turns for the policies and actions): 40 to 60, about
# four to six turns. The policies' work grows with it (they featurize every turn loaded); with 60 to 100 the
# 200th message took 1.57 times as long as the first ones (docs/benchmarks.md, issue 14)
MIN_TAIL = 40
CHECKPOINT_EVERY = 20  # events between two stored states
KEEP_CHECKPOINTS = 8  # states kept per conversation (the older ones are never needed again)
_LOADED = "_frontdoor_loaded"  # on a tracker this store built: (len(tracker.events) then, events stored then)


class BoundedRedisTrackerStore(TrackerStore):
    def __init__(
        self,
        domain: Domain,
        host: Text = "localhost",
        port: int = 6379,
        db: int = 0,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        record_exp: Optional[float] = None,
        key_prefix: Optional[Text] = None,
        min_tail: int = MIN_TAIL,
        checkpoint_every: int = CHECKPOINT_EVERY,
        **kwargs: Dict[Text, Any],
    ) -> None:
        from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]

        self.redis = Redis(host=host, port=int(port), db=int(db), password=password or None,
                           decode_responses=True)
        self.record_exp = int(record_exp) if record_exp else None
        self.prefix = str(key_prefix or "frontdoor")
        self.min_tail = int(min_tail)
        self.checkpoint_every = max(1, int(checkpoint_every))
        super().__init__(domain, event_broker, **kwargs)

    @property
    def said_slot(self) -> Optional[str]:
        """What the customer said before a checkpoint goes into it, when the domain has the slot for it.
        Read from the current domain: Rasa creates the store before it loads the model and sets the
        model's domain on it afterwards (``Agent.load_model``)."""
        return SAID_SLOT if any(slot.name == SAID_SLOT for slot in self.domain.slots) else None

    # -- reading ----------------------------------------------------------------------------------
    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The latest session, loaded from a checkpoint when it is long (see the module docstring)."""
        meta = await self._meta(sender_id)
        if meta is None:
            return None
        n, session_start = int(meta.get("n", 0)), int(meta.get("session_start", 0))
        start, state = session_start, None
        for index, _texts, _at in reversed(_checkpoints(meta)):
            if session_start <= index <= n - self.min_tail and f"cp:{index}" in meta:
                start, state = index, json.loads(meta[f"cp:{index}"])
                break
        raw = await self.redis.lrange(events_key(self.prefix, sender_id), start, -1)
        prefix = _state_events(state) if state else []
        return self._tracker(sender_id, prefix, raw, start + len(raw))

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Every event of every session."""
        if await self._meta(sender_id) is None:
            return None
        raw = await self.redis.lrange(events_key(self.prefix, sender_id), 0, -1)
        return self._tracker(sender_id, [], raw, len(raw))

    def _tracker(self, sender_id: Text, prefix: List[Event], raw: List[str], stored: int) -> DialogueStateTracker:
        events = prefix + [Event.from_parameters(json.loads(item)) for item in raw]
        tracker = DialogueStateTracker.from_events(sender_id, [e for e in events if e is not None],
                                                   self.domain.slots, self.max_event_history)
        setattr(tracker, _LOADED, (len(tracker.events), stored))
        return tracker

    async def _meta(self, sender_id: Text) -> Optional[Dict[str, str]]:
        meta: Dict[str, str] = await self.redis.hgetall(meta_key(self.prefix, sender_id))
        if meta:
            return meta
        if await self._migrate(sender_id):
            return dict(await self.redis.hgetall(meta_key(self.prefix, sender_id)))
        return None

    async def _migrate(self, sender_id: Text) -> bool:
        """Move a conversation stored by Rasa's RedisTrackerStore into this layout (once)."""
        legacy = f"{self.prefix}:tracker:{sender_id}"
        stored = await self.redis.get(legacy)
        if stored is None:
            return False
        events = json.loads(stored).get("events") or []
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        await self._append(tracker, list(tracker.events), 0, {})
        await self.redis.delete(legacy)
        logger.info("conversation %s moved from Rasa's Redis tracker store (%d events)", sender_id, len(events))
        return True

    async def keys(self) -> Iterable[Text]:
        head, tail = f"{self.prefix}:conv:", ":meta"
        return [key[len(head):-len(tail)] async for key in self.redis.scan_iter(match=f"{head}*{tail}")]

    # -- writing ----------------------------------------------------------------------------------
    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append what this turn added. A tracker this store did not load (a new conversation; one that
        Rasa's fail-safe in-memory store held while Redis was down; one the HTTP API rebuilt) is merged
        the way Rasa's Redis store merges: its events newer than the last stored one are appended."""
        await self.stream_events(tracker)
        events = list(tracker.events)
        loaded: Optional[Tuple[int, int]] = getattr(tracker, _LOADED, None)
        if loaded is None:
            meta = await self.redis.hgetall(meta_key(self.prefix, tracker.sender_id))
            stored = int(meta.get("n", 0)) if meta else 0
            if stored:
                last = await self.redis.lindex(events_key(self.prefix, tracker.sender_id), -1)
                after = float(json.loads(last).get("timestamp") or 0) if last else 0.0
                newer = [e for e in events if e.timestamp > after]
                logger.info("merging %d of %d events of conversation %s into its stored history",
                            len(newer), len(events), tracker.sender_id)
                n = await self._append(tracker, newer, stored, meta)
            else:
                n = await self._append(tracker, events, 0, {})
        else:
            meta = await self.redis.hgetall(meta_key(self.prefix, tracker.sender_id))
            if len(events) < loaded[0]:  # cannot happen with Rasa's trackers; never lose the history for it
                logger.warning("tracker of %s shrank from %d to %d events; appending nothing", tracker.sender_id,
                               loaded[0], len(events))
                return
            n = await self._append(tracker, events[loaded[0]:], loaded[1], meta)
        setattr(tracker, _LOADED, (len(events), n))

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is not None:  # Rasa's version loads the stored tracker again to find them
            loaded = getattr(tracker, _LOADED, (0, 0))
            for event in list(tracker.events)[loaded[0]:]:
                body = {"sender_id": tracker.sender_id, **event.as_dict()}
                self.event_broker.publish(body)

    async def _append(self, tracker: DialogueStateTracker, new: List[Event], stored: int,
                      meta: Dict[str, str]) -> int:
        """Store ``new`` after the ``stored`` events already there, with the meta data; returns the count."""
        sender = tracker.sender_id
        session_start = int(meta.get("session_start", 0))
        texts = int(meta.get("texts", 0))
        for offset, event in enumerate(new):
            if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
                session_start = stored + offset
            if isinstance(event, (UserUttered, BotUttered)) and event.text:
                texts += 1
        n = stored + len(new)
        checkpoints = _checkpoints(meta)
        fields: Dict[str, str] = {"n": str(n), "session_start": str(session_start), "texts": str(texts)}
        drop: List[str] = []
        last = checkpoints[-1][0] if checkpoints else 0
        if new and n - last >= self.checkpoint_every:
            at = float(new[-1].timestamp)
            fields[f"cp:{n}"] = json.dumps(_state_of(tracker, self.said_slot), ensure_ascii=False)
            checkpoints.append((n, texts, at))
            drop = [f"cp:{index}" for index, _t, _a in checkpoints[:-KEEP_CHECKPOINTS]]
            checkpoints = checkpoints[-KEEP_CHECKPOINTS:]
        fields["checkpoints"] = json.dumps(checkpoints)
        keys = (events_key(self.prefix, sender), meta_key(self.prefix, sender))
        async with self.redis.pipeline(transaction=True) as pipe:
            if new:
                pipe.rpush(keys[0], *[json.dumps(event.as_dict(), ensure_ascii=False) for event in new])
            pipe.hset(keys[1], mapping=fields)
            if drop:
                pipe.hdel(keys[1], *drop)
            if self.record_exp:
                for key in keys:
                    pipe.expire(key, self.record_exp)
            results = await pipe.execute()
        if new and int(results[0]) != n:
            logger.warning("conversation %s had %d events stored, expected %d (another writer without the lock)",
                           sender, int(results[0]), n)
            n = int(results[0])
        return n


def _checkpoints(meta: Dict[str, str]) -> List[Tuple[int, int, float]]:
    return [(int(i), int(t), float(a)) for i, t, a in json.loads(meta.get("checkpoints") or "[]")]


def _state_of(tracker: DialogueStateTracker, said_slot: Optional[str] = None) -> Dict[str, Any]:
    """What a checkpoint keeps: every slot that differs from its initial value, the active form, and (in
    ``said_slot``) what the customer typed in the session so far."""
    slots = {name: slot.value for name, slot in tracker.slots.items() if slot.value != slot.initial_value}
    if said_slot is not None:
        said = said_in_session(tracker.events, said_slot)
        slots.pop(said_slot, None)
        if said:
            slots[said_slot] = said
    loop = tracker.active_loop
    return {"slots": slots, "active_loop": tracker.active_loop_name,
            "interrupted": bool(loop and loop.is_interrupted), "rejected": bool(loop and loop.rejected)}


def said_in_session(events: Iterable[Event], said_slot: str) -> List[str]:
    """The customer's typed messages of the latest session (button payloads left out), the latest
    ``SAID_LIMIT``: those a checkpoint carried in (``said_slot``), then those of the events."""
    said: List[str] = []
    for event in events:
        if isinstance(event, SlotSet) and event.key == said_slot:
            said = [str(text) for text in event.value] if isinstance(event.value, list) else []
        elif isinstance(event, SessionStarted) or (
                isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME):
            said = []
        elif isinstance(event, UserUttered) and event.text and not event.text.startswith("/"):
            said.append(event.text)
    return said[-SAID_LIMIT:]


def _state_events(state: Dict[str, Any]) -> List[Event]:
    events: List[Event] = [SlotSet(name, value) for name, value in (state.get("slots") or {}).items()]
    if state.get("active_loop"):
        events.append(ActiveLoop(state["active_loop"]))
        if state.get("interrupted"):
            events.append(LoopInterrupted(True))
        if state.get("rejected"):
            events.append(ActionExecutionRejected(state["active_loop"]))
    return events

