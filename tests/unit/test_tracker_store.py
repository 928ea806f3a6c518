"""The bounded tracker store against a real Redis: the same state as a full replay, a bounded load, the
whole history kept, sessions, and conversations stored by Rasa's own Redis store."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_ext.tracker_store import BoundedRedisTrackerStore
from stack.settings import RedisAddress

DOMAIN = Domain.from_dict({
    "intents": ["greet", "ask"],
    "slots": {"language": {"type": "text", "mappings": [{"type": "custom"}]},
              "count": {"type": "float", "mappings": [{"type": "custom"}]},
              "description": {"type": "text", "mappings": [{"type": "custom"}]}},
    "forms": {"problem_form": {"required_slots": ["description"]}},
    "responses": {"utter_ok": [{"text": "ok"}]},
})


def new_store(redis_url: str, domain: Domain | None) -> BoundedRedisTrackerStore:
    """A store under a prefix of its own, with a short tail and frequent checkpoints."""
    address = RedisAddress.parse(redis_url)
    return BoundedRedisTrackerStore(domain, host=address.host, port=address.port, db=address.db,
                                    password=address.password, key_prefix=f"t{uuid.uuid4().hex[:8]}",
                                    record_exp=3600, min_tail=30, checkpoint_every=20)


@pytest.fixture
def store(redis_url: str) -> BoundedRedisTrackerStore:
    return new_store(redis_url, DOMAIN)


def turn(i: int) -> list[Any]:
    events: list[Any] = [UserUttered(f"message {i}", {"name": "ask", "confidence": 1.0}, timestamp=1000.0 + i),
                         SlotSet("count", float(i))]
    if i % 25 == 3:
        events += [ActionExecuted("problem_form"), ActiveLoop("problem_form")]
    if i % 25 == 9:
        events += [SlotSet("description", f"problem {i}"), ActiveLoop(None)]
    events += [ActionExecuted("utter_ok"), BotUttered(f"answer {i}"), ActionExecuted("action_listen")]
    return events


async def talk(store: BoundedRedisTrackerStore, sender: str, turns: range) -> list[Any]:
    """Each turn as Rasa does it: load, add the turn's events, save. Returns every event added."""
    added: list[Any] = []
    for i in turns:
        tracker = await store.get_or_create_tracker(sender)
        for event in turn(i):
            tracker.update(event)
            added.append(event)
        await store.save(tracker)
    return added


async def test_a_long_conversation_loads_a_bounded_tail_with_the_state_of_a_full_replay(
        store: BoundedRedisTrackerStore) -> None:
    sender = "long"
    first = await store.get_or_create_tracker(sender)  # a new conversation starts listening
    start = list(first.events)
    added = await talk(store, sender, range(120))
    full = DialogueStateTracker.from_events(sender, start + added, DOMAIN.slots)
    loaded = await store.retrieve(sender)
    assert loaded is not None
    assert len(loaded.events) <= 30 + 20 + len(DOMAIN.slots) + 1 + 6  # tail + one turn + the state
    assert loaded.current_slot_values() == full.current_slot_values()
    assert loaded.active_loop_name == full.active_loop_name
    assert loaded.latest_message.text == "message 119"
    everything = await store.retrieve_full_tracker(sender)
    assert everything is not None
    assert [e.as_dict() for e in everything.events] == [e.as_dict() for e in full.events]  # nothing lost


async def test_the_state_is_right_in_the_middle_of_a_form(store: BoundedRedisTrackerStore) -> None:
    added = await talk(store, "form", range(54))  # turn 53 opened the form again (53 % 25 == 3)
    full = DialogueStateTracker.from_events("form", added, DOMAIN.slots)
    loaded = await store.retrieve("form")
    assert loaded is not None and full.active_loop_name == "problem_form"
    assert loaded.active_loop_name == "problem_form"
    assert loaded.current_slot_values() == full.current_slot_values()


async def test_a_new_session_is_loaded_from_its_start(store: BoundedRedisTrackerStore) -> None:
    await talk(store, "s", range(10))
    tracker = await store.retrieve("s")
    assert tracker is not None
    for event in (ActionExecuted("action_session_start"), SessionStarted(), SlotSet("language", "da"),
                  ActionExecuted("action_listen")):
        tracker.update(event)
    await store.save(tracker)
    await talk(store, "s", range(10, 12))
    latest = await store.retrieve("s")
    assert latest is not None
    names = [getattr(e, "action_name", None) for e in latest.events]
    assert names[0] == "action_session_start" and "message 3" not in [getattr(e, "text", "") for e in latest.events]
    assert latest.get_slot("language") == "da"
    assert "message 3" in [getattr(e, "text", "") for e in (await store.retrieve_full_tracker("s")).events]


async def test_saving_twice_appends_each_event_once(store: BoundedRedisTrackerStore) -> None:
    tracker = await store.get_or_create_tracker("twice")
    tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    tracker.update(BotUttered("hello"))
    await store.save(tracker)
    everything = await store.retrieve_full_tracker("twice")
    assert everything is not None
    assert [type(e).__name__ for e in everything.events] == ["ActionExecuted", "UserUttered", "BotUttered"]


async def test_a_tracker_built_elsewhere_is_merged_never_replacing_the_history(
        store: BoundedRedisTrackerStore) -> None:
    """Rasa's fail-safe store hands over a fresh tracker after Redis was down: the history stays."""
    await talk(store, "merge", range(5))
    before = await store.redis.llen(f"{store.prefix}:conv:merge:events")
    fresh = DialogueStateTracker.from_events("merge", [ActionExecuted("action_listen", timestamp=1.0),
                                                       UserUttered("while Redis was down", timestamp=time.time() + 10)],
                                             DOMAIN.slots)
    await store.save(fresh)
    everything = await store.retrieve_full_tracker("merge")
    assert everything is not None and len(everything.events) == before + 1  # only the newer event
    assert everything.events[-1].text == "while Redis was down"
    assert (await store.retrieve("merge")).get_slot("count") == 4.0  # the state of the history


async def test_history_expires_like_rasas(store: BoundedRedisTrackerStore) -> None:
    await talk(store, "exp", range(2))
    for key in (f"{store.prefix}:conv:exp:events", f"{store.prefix}:conv:exp:meta"):
        assert 0 < await store.redis.ttl(key) <= 3600


async def test_a_conversation_stored_by_rasas_redis_store_is_moved_over(
        store: BoundedRedisTrackerStore, redis_url: str) -> None:
    address = RedisAddress.parse(redis_url)
    rasa_store = RedisTrackerStore(DOMAIN, host=address.host, port=address.port, db=address.db,
                                   password=address.password or None, key_prefix=store.prefix)
    old = DialogueStateTracker.from_events("legacy", [e for i in range(4) for e in turn(i)], DOMAIN.slots)
    await rasa_store.save(old)
    moved = await store.retrieve("legacy")
    assert moved is not None and moved.get_slot("count") == 3.0
    assert not await store.redis.exists(f"{store.prefix}:tracker:legacy")
    assert await store.redis.llen(f"{store.prefix}:conv:legacy:events") == len(old.events)
    assert "legacy" in list(await store.keys())
    assert json.loads((await store.redis.lrange(f"{store.prefix}:conv:legacy:events", 0, 0))[0])["event"] == "user"


async def test_the_tickets_transcript_reaches_back_beyond_the_loaded_tail(
        store: BoundedRedisTrackerStore, redis_url: str) -> None:
    from rasa.shared.core.trackers import EventVerbosity
    from rasa_sdk import Tracker

    from actions.handoff import History, transcript_of

    await talk(store, "transcript", range(100))
    loaded = await store.retrieve("transcript")
    assert loaded is not None
    state = loaded.current_state(EventVerbosity.AFTER_RESTART)
    sdk_tracker = Tracker.from_dict(state)
    assert len(transcript_of(sdk_tracker)) < 60  # the tail alone is shorter
    turns = await History(redis_url, store.prefix).transcript(sdk_tracker)
    assert [t["text"] for t in turns] == [text for i in range(70, 100) for text in (f"message {i}", f"answer {i}")]
    assert await History("", store.prefix).transcript(sdk_tracker) == transcript_of(sdk_tracker)  # no Redis


DOMAIN_SAID = Domain.from_dict({
    "intents": ["greet", "ask"],
    "slots": {**{name: {"type": "text", "mappings": [{"type": "custom"}]} for name in ("language", "description")},
              "count": {"type": "float", "mappings": [{"type": "custom"}]},
              "customer_said": {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}},
    "forms": {"problem_form": {"required_slots": ["description"]}},
    "responses": {"utter_ok": [{"text": "ok"}]},
})


@pytest.fixture
def said_store(redis_url: str) -> BoundedRedisTrackerStore:
    return new_store(redis_url, DOMAIN_SAID)


async def test_what_the_customer_said_before_the_tail_comes_with_it(said_store: BoundedRedisTrackerStore) -> None:
    """The tail holds the last few turns; every earlier message of the session is in ``customer_said``, so
    the actions see all the customer typed (never ask again), bounded by SAID_LIMIT."""
    from bot.conversation_keys import SAID_LIMIT

    await talk(said_store, "said", range(30))
    loaded = await said_store.retrieve("said")
    assert loaded is not None
    tail = [e.text for e in loaded.events if isinstance(e, UserUttered)]
    earlier = loaded.get_slot("customer_said")
    assert tail and earlier and tail[0] != "message 0"
    assert earlier + tail == [f"message {i}" for i in range(30)]  # each once, in order
    await talk(said_store, "said", range(30, 90))
    loaded = await said_store.retrieve("said")
    combined = loaded.get_slot("customer_said") + [e.text for e in loaded.events if isinstance(e, UserUttered)]
    assert len(loaded.get_slot("customer_said")) == SAID_LIMIT
    assert combined[-10:] == [f"message {i}" for i in range(80, 90)]
    assert combined == [f"message {i}" for i in range(90 - len(combined), 90)]


async def test_the_domain_set_after_creation_counts_like_rasa_sets_it(redis_url: str) -> None:
    """Rasa creates the tracker store before it loads the model and sets the model's domain on it
    afterwards (Agent.load_model): what was said before the tail must come with it all the same."""
    store = new_store(redis_url, None)
    store.domain = DOMAIN_SAID
    await talk(store, "late", range(30))
    loaded = await store.retrieve("late")
    assert loaded is not None and loaded.get_slot("customer_said")
    tail = [e.text for e in loaded.events if isinstance(e, UserUttered)]
    assert loaded.get_slot("customer_said") + tail == [f"message {i}" for i in range(30)]


async def test_a_new_session_starts_with_nothing_said(said_store: BoundedRedisTrackerStore) -> None:
    await talk(said_store, "fresh", range(30))
    tracker = await said_store.retrieve("fresh")
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    await said_store.save(tracker)
    await talk(said_store, "fresh", range(100, 130))
    loaded = await said_store.retrieve("fresh")
    combined = (loaded.get_slot("customer_said") or []) + [e.text for e in loaded.events
                                                           if isinstance(e, UserUttered)]
    assert combined == [f"message {i}" for i in range(100, 130)]


def test_the_actions_read_what_was_said_before_the_tail() -> None:
    from rasa_sdk import Tracker

    from actions.prequal import customer_texts

    tracker = Tracker("c", {"customer_said": ["my whole team is affected", "/feedback_not_helped"]},
                      {"text": "still broken"}, [{"event": "user", "text": "still broken"},
                                                 {"event": "user", "text": "/affirm"}], False, None, None, "")
    assert customer_texts(tracker) == ["my whole team is affected", "still broken"]
