"""Knowledge-base feedback shared by every action server: a Redis :class:`bot.kb.feedback.FeedbackStore`.

Layout (all keys built in :class:`FeedbackKeys`): one hash per language and query term,
``{prefix}kbfb:{lang}:term:{term}`` -> {article_id: net votes}. Votes are integers changed with HINCRBY,
so concurrent action servers never lose an update. Uses sync redis-py 4.6 (the engine's search is sync).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import redis  # type: ignore[import-untyped, unused-ignore]

from bot.kb.feedback import WEEK_SECONDS, WEEKS_KEPT, Tally, decayed, week_of

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "frontdoor:"


@dataclass(frozen=True)
class FeedbackKeys:
    """The only place that knows the Redis key layout of KB feedback."""

    prefix: str = DEFAULT_PREFIX

    def term(self, lang: str, term: str, week: int) -> str:
        return f"{self.prefix}kbfb:{lang}:w{week}:term:{term}"

    def articles(self, lang: str, week: int) -> str:
        return f"{self.prefix}kbfb:{lang}:w{week}:articles"

    def voter(self, lang: str, article_id: str, voter: str) -> str:
        digest = hashlib.sha256(voter.encode()).hexdigest()[:20]  # no conversation id in the key space
        return f"{self.prefix}kbfb:{lang}:voted:{article_id}:{digest}"


class RedisFeedbackStore:
    """Decayed votes per (language, term, article) in weekly Redis hashes (field ``{article}`` = net,
    ``{article}#n`` = count), one vote per conversation and article. Implements ``FeedbackStore``."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.keys = FeedbackKeys(prefix)
        self.clock = clock

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX, timeout: float = 0.5) -> RedisFeedbackStore:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                      decode_responses=True)
        return cls(client, prefix)

    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int, voter: str | None = None) -> bool:
        ttl = (WEEKS_KEPT + 1) * WEEK_SECONDS
        if voter is not None and not self.client.set(self.keys.voter(lang, article_id, voter), 1, nx=True, ex=ttl):
            return False  # this conversation voted on this article already
        week = week_of(self.clock())
        pipe = self.client.pipeline(transaction=False)
        for key in (self.keys.articles(lang, week), *(self.keys.term(lang, t, week) for t in dict.fromkeys(terms))):
            pipe.hincrby(key, article_id, delta)
            pipe.hincrby(key, f"{article_id}#n", 1)
            pipe.expire(key, ttl)
        pipe.execute()
        return True

    def _read(self, keys_by_age: list[tuple[str, int]]) -> list[tuple[int, dict[str, str]]]:
        pipe = self.client.pipeline(transaction=False)
        for key, _age in keys_by_age:
            pipe.hgetall(key)
        return [(age, raw) for (_key, age), raw in zip(keys_by_age, pipe.execute()) if raw]

    @staticmethod
    def _tallies(rows: list[tuple[int, dict[str, str]]]) -> dict[str, Tally]:
        """Weekly hashes ({article}: net, {article}#n: count) -> decayed tallies."""
        def entries(age: int, raw: dict[str, str]) -> list[tuple[int, str, float, float]]:
            fields = {_text(k): int(v) for k, v in raw.items()}
            return [(age, name, value, fields.get(f"{name}#n", 0)) for name, value in fields.items()
                    if not name.endswith("#n")]

        return decayed(entry for age, raw in rows for entry in entries(age, raw))

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, Tally]]:
        unique = [t for t in dict.fromkeys(terms) if t]
        if not unique:
            return {}
        now = week_of(self.clock())
        pipe = self.client.pipeline(transaction=False)
        for term in unique:
            for age in range(WEEKS_KEPT):
                pipe.hgetall(self.keys.term(lang, term, now - age))
        raw = pipe.execute()
        out: dict[str, Mapping[str, Tally]] = {}
        for i, term in enumerate(unique):
            rows = [(age, r) for age, r in enumerate(raw[i * WEEKS_KEPT:(i + 1) * WEEKS_KEPT]) if r]
            tallies = self._tallies(rows)
            if tallies:
                out[term] = tallies
        return out

    def summary(self, lang: str) -> Mapping[str, Tally]:
        now = week_of(self.clock())
        return self._tallies(self._read([(self.keys.articles(lang, now - age), age) for age in range(WEEKS_KEPT)]))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
