"""The Redis feedback store against a real Redis server (tests/conftest.py), one key prefix per test."""

from __future__ import annotations

from pathlib import Path

import redis

from actions.kb_feedback import FeedbackKeys, RedisFeedbackStore
from bot.kb.search import KnowledgeBase


def test_votes_round_trip_and_keys_use_the_prefix(redis_url: str, key_prefix: str) -> None:
    store = RedisFeedbackStore.from_url(redis_url, prefix=key_prefix)
    store.add("de", ["abo", "kuendigen", "abo"], "subscription-cancel", -1)
    store.add("de", ["abo"], "subscription-cancel", -1)
    store.add("de", ["abo"], "subscription-pause", 1)
    assert store.votes("de", ["abo", "kuendigen", "nix"]) == {
        "abo": {"subscription-cancel": -2, "subscription-pause": 1}, "kuendigen": {"subscription-cancel": -1}}
    assert store.votes("en", ["abo"]) == {}
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert sorted(client.scan_iter(f"{key_prefix}*")) == [
        FeedbackKeys(key_prefix).term("de", "abo"), FeedbackKeys(key_prefix).term("de", "kuendigen")]
    assert FeedbackKeys(key_prefix).term("de", "abo") == f"{key_prefix}kbfb:de:term:abo"


def test_two_engines_share_feedback_through_redis(redis_url: str, key_prefix: str, kb_root: Path,
                                                  matrix_path: Path) -> None:
    one = KnowledgeBase.load(kb_root, matrix_path, feedback=RedisFeedbackStore.from_url(redis_url, key_prefix))
    two = KnowledgeBase.load(kb_root, matrix_path, feedback=RedisFeedbackStore.from_url(redis_url, key_prefix))
    assert two.search("stop my subscription", "en").hits[0].article.id == "subscription-cancel"
    one.record_feedback("I want to stop my subscription", "en", "subscription-cancel", helped=False)
    one.record_feedback("stop the subscription now", "en", "subscription-cancel", helped=False)
    assert two.search("please stop my subscription", "en").hits[0].article.id == "subscription-pause"


def test_ttl_is_applied(redis_url: str, key_prefix: str) -> None:
    store = RedisFeedbackStore.from_url(redis_url, prefix=key_prefix, ttl_seconds=100)
    store.add("en", ["x"], "a", 1)
    assert 0 < store.client.ttl(store.keys.term("en", "x")) <= 100
