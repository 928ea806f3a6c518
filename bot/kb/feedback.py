"""Learning from "did this help?": votes per (language, query term, article).

A vote on an article for a query is stored under every content term (folded lemma) of the query, so it
also moves the article for *similar* queries (those sharing terms), in proportion to the share of
shared terms. Storage is behind :class:`FeedbackStore`; the action server uses a Redis implementation
(``actions/kb_feedback.py``) so that several action servers share what they learned.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Protocol


class FeedbackStore(Protocol):
    """Net votes (helped = +1, did not help = -1) per language, query term and article id."""

    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int) -> None:
        """Add ``delta`` to the votes of ``article_id`` under every term."""

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        """{term: {article_id: net votes}} for the given terms (terms without votes may be absent)."""


class InMemoryFeedbackStore:
    """Process-local store, for tests and single-process use."""

    def __init__(self) -> None:
        self._votes: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        self._lock = threading.Lock()

    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int) -> None:
        with self._lock:
            for term in dict.fromkeys(terms):
                bucket = self._votes[(lang, term)]
                bucket[article_id] = bucket.get(article_id, 0) + delta

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        with self._lock:
            return {t: dict(self._votes[(lang, t)]) for t in terms if (lang, t) in self._votes}


# how strongly votes move a score: factor = exp(STRENGTH * tanh(mean vote over the query's terms))
DOWN_STRENGTH = 0.9
UP_STRENGTH = 0.25
# "did not help" re-ranks (other candidates come first) but may push an answered article below the
# abstention threshold only after this many consistent votes (mean net vote over the query's terms):
# one unhappy customer must not leave the next one asking the same thing without any answer
VOTES_TO_ABSTAIN = 3.0


def adjustment_factors(
    votes: Mapping[str, Mapping[str, int]], terms: Sequence[str]
) -> dict[str, float]:
    """Multiplicative score factor per article id (< 1 after "did not help", > 1 after "helped")."""
    out: dict[str, float] = {}
    for art, mean in net_votes(votes, terms).items():
        strength = DOWN_STRENGTH if mean < 0 else UP_STRENGTH
        out[art] = math.exp(strength * math.tanh(mean))
    return out


def net_votes(votes: Mapping[str, Mapping[str, int]], terms: Sequence[str]) -> dict[str, float]:
    """Mean net vote per article id over the query's terms (-2.0: two "did not help" on every term)."""
    if not terms:
        return {}
    totals: dict[str, float] = defaultdict(float)
    for term in terms:
        for art, v in votes.get(term, {}).items():
            totals[art] += v
    return {art: total / len(terms) for art, total in totals.items()}


def adjusted_score(score: float, mean_vote: float, threshold: float) -> float:
    """An article's confidence after feedback. Votes move it by :func:`adjustment_factors`' rule, but
    an article that was above ``threshold`` stays at least at it until ``VOTES_TO_ABSTAIN`` consistent
    "did not help" votes: before that, feedback only lets the other candidates come first."""
    strength = DOWN_STRENGTH if mean_vote < 0 else UP_STRENGTH
    out = min(1.0, score * math.exp(strength * math.tanh(mean_vote)))
    if score >= threshold and out < threshold and mean_vote > -VOTES_TO_ABSTAIN:
        out = threshold
    return out
