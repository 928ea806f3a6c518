"""The Redis feedback store against a real Redis server (tests/conftest.py), one key prefix per test."""

from __future__ import annotations

from pathlib import Path

import redis

from actions.kb_feedback import FeedbackKeys, RedisFeedbackStore
from bot.kb.feedback import HALF_LIFE_WEEKS, WEEK_SECONDS, Tally, week_of
from bot.kb.search import KnowledgeBase


def test_votes_round_trip_decay_and_keys_use_the_prefix(redis_url: str, key_prefix: str) -> None:
    now = [2000 * WEEK_SECONDS]
    store = RedisFeedbackStore(redis.Redis.from_url(redis_url, decode_responses=True), key_prefix,
                               clock=lambda: now[0])
    assert store.add("de", ["abo", "kuendigen", "abo"], "subscription-cancel", -1, voter="voter-one")
    assert not store.add("de", ["abo"], "subscription-cancel", -1, voter="voter-one")  # once per conversation
    assert store.add("de", ["abo"], "subscription-cancel", -1, voter="voter-two")
    assert store.add("de", ["abo"], "subscription-pause", 1, voter="voter-one")
    assert store.votes("de", ["abo", "kuendigen", "nix"]) == {
        "abo": {"subscription-cancel": Tally(-2, 2), "subscription-pause": Tally(1, 1)},
        "kuendigen": {"subscription-cancel": Tally(-1, 1)}}
    assert store.votes("en", ["abo"]) == {}
    assert store.summary("de") == {"subscription-cancel": Tally(-2, 2), "subscription-pause": Tally(1, 1)}
    now[0] += HALF_LIFE_WEEKS * WEEK_SECONDS  # four weeks later the same votes weigh half
    assert store.votes("de", ["kuendigen"])["kuendigen"]["subscription-cancel"].net == -0.5
    week = week_of(2000 * WEEK_SECONDS)
    keys = FeedbackKeys(key_prefix)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    found = set(client.scan_iter(f"{key_prefix}*"))
    assert {keys.term("de", "abo", week), keys.term("de", "kuendigen", week), keys.articles("de", week)} <= found
    assert all(k.startswith(f"{key_prefix}kbfb:de:") for k in found)
    # conversation ids are hashed (ids with letters no hex digest has: a random prefix or digest cannot match)
    assert not any("voter-one" in k or "voter-two" in k for k in found)
    assert all(0 < client.ttl(k) for k in found)  # everything expires


def test_two_engines_share_feedback_through_redis(redis_url: str, key_prefix: str, kb_root: Path,
                                                  matrix_path: Path) -> None:
    one = KnowledgeBase.load(kb_root, matrix_path, feedback=RedisFeedbackStore.from_url(redis_url, key_prefix))
    two = KnowledgeBase.load(kb_root, matrix_path, feedback=RedisFeedbackStore.from_url(redis_url, key_prefix))
    assert two.search("stop my subscription", "en").hits[0].article.id == "subscription-cancel"
    for i in range(8):
        one.record_feedback("I want to stop my subscription", "en", "subscription-cancel", helped=False,
                            voter=f"conv-{i}")
    assert two.search("please stop my subscription", "en").hits[0].article.id == "subscription-pause"
