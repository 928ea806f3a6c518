"""POST /api/v1/bot/signals against the real Redis: the bot's conversation signals are validated (the
reason names the signal's index and field), masked, stored on their own stream (not on the events stream
webhooks consume) in the documented shape, read back by time, and kept 90 days."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from handoff_helpers import FakeClock, agent_headers, bot_headers

from handoff.settings import Settings
from handoff.store import Store

EMBEDDING = base64.b64encode(struct.pack("<384e", *([0.5] * 384))).decode()


def signal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "kb_answered", "conversation_id": "conv-1", "language": "de",
                            "text": "Wie kündige ich mein Abo?", "article_id": "billing-cancel",
                            "article_lang": "de", "category": "billing"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def post(client: TestClient, signals: Any, status: int = 202) -> Any:
    resp = await client.post("/api/v1/bot/signals", json={"signals": signals}, headers=bot_headers())
    data = await resp.json()
    assert resp.status == status, data
    return data


async def stream(settings: Settings, name: str) -> list[tuple[str, dict[str, str]]]:
    async with aioredis.from_url(settings.redis_url, decode_responses=True) as r:
        return list(await r.xrange(settings.key_prefix + name))


async def test_signals_are_stored_in_the_documented_shape(client: TestClient, settings: Settings,
                                                          clock: FakeClock) -> None:
    card = "Meine Karte 4111 1111 1111 1111 wurde belastet. " + "x" * 1000
    sent = [signal(at=clock.now - 60, embedding=EMBEDDING),
            signal(type="kb_no_answer", conversation_id="conv-2", language="en", text=card, article_id=None,
                   article_lang=None, category=None, product="Streamly TV", error_code="E42"),
            signal(type="kb_feedback", helped=False, text=None),
            {"type": "declined", "conversation_id": "conv-3", "language": "da"}]
    assert await post(client, sent) == {"accepted": 4}
    entries = await stream(settings, "signals")
    assert [(f["type"], f["conv"]) for _, f in entries] == [
        ("kb_answered", "conv-1"), ("kb_no_answer", "conv-2"), ("kb_feedback", "conv-1"), ("declined", "conv-3")]
    assert all(set(f) == {"type", "conv", "at", "data"} for _, f in entries)
    assert [float(f["at"]) for _, f in entries] == [clock.now - 60, clock.now, clock.now, clock.now]
    # the stream ids are the arrival time by the service's clock, increasing
    assert all(i.startswith(f"{clock.now * 1000:.0f}-") for i, _ in entries)
    assert [int(i.split("-")[1]) for i, _ in entries] == [0, 1, 2, 3]
    first, unanswered, vote, declined = (json.loads(f["data"]) for _, f in entries)
    assert first == {"language": "de", "text": "Wie kündige ich mein Abo?", "article_id": "billing-cancel",
                     "article_lang": "de", "category": "billing", "embedding": EMBEDDING}
    assert "4111" not in unanswered["text"] and "[card ****1111]" in unanswered["text"]
    assert len(unanswered["text"]) == 500
    assert unanswered["product"] == "Streamly TV" and unanswered["error_code"] == "E42"
    assert vote["helped"] is False and "text" not in vote
    assert declined == {"language": "da"}
    assert await stream(settings, "events") == []  # webhooks never see signals


async def test_signals_read_back_by_arrival_time(client: TestClient, settings: Settings, clock: FakeClock) -> None:
    await post(client, [signal(conversation_id="early")])
    clock.advance(3600)
    await post(client, [signal(conversation_id="late", at=clock.now - 7200)])  # reported late
    clock.advance(3600)
    await post(client, [signal(conversation_id="last")])
    async with aioredis.from_url(settings.redis_url, decode_responses=True) as r:
        store = Store(r, settings.key_prefix)
        got = await store.signals_between(clock.now - 5400, clock.now - 1800)
        assert [(s.conversation_id, s.at) for s in got] == [("late", clock.now - 3600 - 7200)]
        assert [s.conversation_id for s in await store.signals_between(0, clock.now)] == ["early", "late", "last"]


async def test_a_clock_behind_the_last_signal_keeps_the_ids_increasing(client: TestClient, settings: Settings,
                                                                       clock: FakeClock) -> None:
    await post(client, [signal()])
    clock.advance(-10)  # another instance's clock, a little behind
    await post(client, [signal(), signal()])
    ids = [i for i, _ in await stream(settings, "signals")]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == 3


@pytest.mark.parametrize(("signals", "reason"), [
    ([], "'signals' needs at least 1 item(s)"),
    ([signal()] * 101, "'signals' has more than 100 items"),
    ([signal(), signal(type="kb_maybe")], "'signals[1].type' must be one of kb_answered, kb_ambiguous, "
                                          "kb_no_answer, kb_feedback, declined, got 'kb_maybe'"),
    ([signal(conversation_id=None)], "'signals[0].conversation_id' is required"),
    ([signal(conversation_id="c" * 201)], "'signals[0].conversation_id' is longer than 200 characters"),
    ([signal(language="fr")], "'signals[0].language' must be one of de, en, da, got 'fr'"),
    ([signal(language=None)], "'signals[0].language' is required"),
    ([signal(text="x" * 2001)], "'signals[0].text' is longer than 2000 characters"),
    ([signal(article_id=7)], "'signals[0].article_id' must be a string"),
    ([signal(at="yesterday")], "'signals[0].at' must be a number (unix seconds)"),
    ([signal(at=1_764_000_000.0 + 3601)], "'signals[0].at' is more than 1 h in the future"),
    ([signal(at=-1)], "'signals[0].at' must not be before 1970"),
    ([signal(), signal(type="kb_feedback")], "'signals[1].helped' is required for kb_feedback (true or false)"),
    ([signal(type="kb_feedback", helped="yes")], "'signals[0].helped' must be true or false"),
    ([signal(helped=True)], "'signals[0].helped' is only for kb_feedback signals"),
    ([signal(embedding=EMBEDDING[:-4])], "'signals[0].embedding' must hold 384 float16 values (768 bytes), got 765 bytes"),
    ([signal(embedding="!" * 1024)], "'signals[0].embedding' is not base64"),
    ([signal(embedding=base64.b64encode(struct.pack("<384e", *([float("nan")] * 384))).decode())],
     "'signals[0].embedding' holds a value that is not a finite number"),
    ([signal(embedding=EMBEDDING + "AAAA")], "'signals[0].embedding' is longer than 1024 characters"),
    (["kb_answered"], "'signals[0]' must be an object"),
])
async def test_a_bad_signal_is_refused_naming_its_index_and_field(client: TestClient, settings: Settings,
                                                                  signals: Any, reason: str) -> None:
    data = await post(client, signals, status=400)
    assert data == {"error": "invalid_request", "detail": reason}
    assert await stream(settings, "signals") == []  # nothing of a refused call is stored


async def test_only_the_bot_may_send_signals(client: TestClient) -> None:
    for headers in ({}, agent_headers(), {"Authorization": "Bearer nope"}):
        resp = await client.post("/api/v1/bot/signals", json={"signals": [signal()]}, headers=headers)
        assert resp.status == 401
    resp = await client.post("/api/v1/bot/signals", json=[signal()], headers=bot_headers())
    assert resp.status == 400 and (await resp.json())["detail"] == "the body must be a JSON object"
    resp = await client.post("/api/v1/bot/signals", json={}, headers=bot_headers())
    assert (await resp.json())["detail"] == "'signals' is required"


async def test_signals_are_kept_90_days(settings: Settings, redis_url: str, clock: FakeClock) -> None:
    from handoff.signals import Signal

    async with aioredis.from_url(redis_url, decode_responses=True) as r:
        store = Store(r, settings.key_prefix, signals_maxlen=1000)
        old = [Signal("kb_answered", f"old-{i}", clock.now, {"language": "en"}) for i in range(250)]
        for i in range(0, 250, 50):
            await store.append_signals(old[i:i + 50], clock.now)
        await store.append_signals([Signal("kb_answered", "day-89", clock.now, {"language": "en"})],
                                   clock.now + 89 * 86400)
        assert await r.xlen(store.signals_key) == 251
        await store.append_signals([Signal("kb_answered", "day-91", clock.now, {"language": "en"})],
                                   clock.now + 91 * 86400)
        kept = [s.conversation_id for s in await store.signals_between(0, clock.now + 92 * 86400)]
        # trimmed by whole stream nodes (MINID ~): most of the old ones are gone, nothing newer
        assert len(kept) < 150 and kept[-2:] == ["day-89", "day-91"]
        # and by length: the cap holds however new the entries are
        capped = Store(r, settings.key_prefix, signals_maxlen=100)
        for _ in range(3):
            await capped.append_signals(old[:100], clock.now + 91 * 86400)
        assert await r.xlen(store.signals_key) < 300


async def test_events_are_kept_90_days_by_their_time(settings: Settings, redis_url: str) -> None:
    """The events stream's ids are Redis' time: the retention trims by it (``trim_streams``, hourly)."""
    import time

    from handoff.transitions import Event

    async with aioredis.from_url(redis_url, decode_responses=True) as r:
        store = Store(r, settings.key_prefix)
        for i in range(300):
            await store.record_event(f"T-{i}", Event("note", "alice"), time.time())
        assert await store.trim_streams(time.time() + 89 * 86400) == 0
        removed = await store.trim_streams(time.time() + 91 * 86400)
        assert removed >= 200 and await r.xlen(store.events_key) == 300 - removed


def test_the_retention_settings_default_to_the_stores_and_are_read_from_the_environment() -> None:
    from handoff.store import EVENTS_MAXLEN, RETENTION_DAYS, SIGNALS_MAXLEN

    base = {"REDIS_URL": "redis://x", "HANDOFF_BOT_TOKEN": "t"}
    defaults = Settings.from_env(base)
    assert (defaults.events_maxlen, defaults.signals_maxlen, defaults.retention_days) == (
        EVENTS_MAXLEN, SIGNALS_MAXLEN, RETENTION_DAYS)
    assert Settings(redis_url="r", bot_token="t").events_maxlen == EVENTS_MAXLEN
    custom = Settings.from_env({**base, "HANDOFF_EVENTS_MAXLEN": "5000", "HANDOFF_SIGNALS_MAXLEN": "7000",
                                "HANDOFF_RETENTION_DAYS": "30"})
    assert (custom.events_maxlen, custom.signals_maxlen, custom.retention_days) == (5000, 7000, 30.0)
