"""Knowledge-base feedback shared by every action server: a Redis :class:`bot.kb.feedback.FeedbackStore`.

Layout (all keys built in :class:`FeedbackKeys`): one hash per language and query term,
``{prefix}kbfb:{lang}:term:{term}`` -> {article_id: net votes}. Votes are integers changed with HINCRBY,
so concurrent action servers never lose an update. Uses sync redis-py 4.6 (the engine's search is sync).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "frontdoor:"


@dataclass(frozen=True)
class FeedbackKeys:
    """The only place that knows the Redis key layout of KB feedback."""

    prefix: str = DEFAULT_PREFIX

    def term(self, lang: str, term: str) -> str:
        return f"{self.prefix}kbfb:{lang}:term:{term}"


class RedisFeedbackStore:
    """Net votes per (language, term, article) in Redis hashes. Implements ``FeedbackStore``."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX, ttl_seconds: int | None = None) -> None:
        self.client = client
        self.keys = FeedbackKeys(prefix)
        self.ttl_seconds = ttl_seconds  # optional expiry so old feedback fades out

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX, ttl_seconds: int | None = None,
                 timeout: float = 0.5) -> RedisFeedbackStore:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                      decode_responses=True)
        return cls(client, prefix, ttl_seconds)

    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        for term in dict.fromkeys(terms):
            key = self.keys.term(lang, term)
            pipe.hincrby(key, article_id, delta)
            if self.ttl_seconds:
                pipe.expire(key, self.ttl_seconds)
        pipe.execute()

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for term in unique:
            pipe.hgetall(self.keys.term(lang, term))
        out: dict[str, dict[str, int]] = {}
        for term, raw in zip(unique, pipe.execute()):
            if raw:
                out[term] = {_text(k): int(v) for k, v in raw.items()}
        return out


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
