"""Learning from "did this help?": votes per (language, query term, article).

Feedback must not be poisoned by one customer: a conversation votes once per article, one vote weighs
little until many distinct conversations agree (``PRIOR_VOTES``), and votes decay (weekly buckets, a
half-life of ``HALF_LIFE_WEEKS``); editors see the per-article tallies (``frontdoor kb feedback``).

A vote on an article for a query is stored under every content term (folded lemma) of the query, so it
also moves the article for *similar* queries (those sharing terms), in proportion to the share of
shared terms. Storage is behind :class:`FeedbackStore`; the action server uses a Redis implementation
(``actions/kb_feedback.py``) so that several action servers share what they learned.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


WEEK_SECONDS = 7 * 24 * 3600
HALF_LIFE_WEEKS = 4.0  # a vote weighs half after four weeks, a quarter after eight ...
WEEKS_KEPT = 12  # ... and is forgotten after twelve
# one conversation's vote weighs little: the evidence of n agreeing votes is n * (n / (n + PRIOR_VOTES))**2
# (1 vote: 0.04, 4 votes: 1, 8 votes: 3.6, 20 votes: 13.9), so only many distinct conversations move an
# answer far
PRIOR_VOTES = 4.0
# fewer votes than this (weighted by age, averaged over the query's terms) move nothing at all: two
# customers who clicked 👎 must not change what the third one sees when two articles are close
MIN_VOTES = 3.0


@dataclass(frozen=True)
class Tally:
    """Decayed votes: ``net`` = helped minus did-not-help, ``count`` = how many votes (each weighted by age)."""

    net: float
    count: float


def week_of(timestamp: float) -> int:
    return int(timestamp // WEEK_SECONDS)


def week_weight(age_weeks: int) -> float:
    return 0.5 ** (age_weeks / HALF_LIFE_WEEKS) if 0 <= age_weeks < WEEKS_KEPT else 0.0


def decayed(rows: Iterable[tuple[int, str, float, float]]) -> dict[str, Tally]:
    """Tallies per article from (age in weeks, article id, net, count) rows, each weighted by its age."""
    net: dict[str, float] = defaultdict(float)
    count: dict[str, float] = defaultdict(float)
    for age, article, n, c in rows:
        net[article] += n * week_weight(age)
        count[article] += c * week_weight(age)
    return {a: Tally(net[a], count[a]) for a in net}


class FeedbackStore(Protocol):
    """Votes (helped = +1, did not help = -1) per language, query term and article id, kept in weekly
    buckets that decay; one vote per conversation (``voter``) and article."""

    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int, voter: str | None = None) -> bool:
        """Count the vote under every term; False (nothing counted) when ``voter`` already voted on this
        article."""

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, Tally]]:
        """{term: {article_id: decayed tally}} for the given terms (terms without votes may be absent)."""

    def summary(self, lang: str) -> Mapping[str, Tally]:
        """{article_id: decayed tally} of every vote in ``lang``: what editors review (`kb feedback`)."""


class InMemoryFeedbackStore:
    """Process-local store, for tests and single-process use."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        # (lang, week, term) -> article -> [net, count]; term "" holds the per-article summary
        self._votes: dict[tuple[str, int, str], dict[str, list[int]]] = defaultdict(dict)
        self._voters: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int, voter: str | None = None) -> bool:
        week = week_of(self.clock())
        with self._lock:
            if voter is not None:
                if (lang, article_id, voter) in self._voters:
                    return False
                self._voters.add((lang, article_id, voter))
            for term in ("", *dict.fromkeys(terms)):
                entry = self._votes[(lang, week, term)].setdefault(article_id, [0, 0])
                entry[0] += delta
                entry[1] += 1
        return True

    def _tallies(self, lang: str, term: str) -> dict[str, Tally]:
        now = week_of(self.clock())
        return decayed((age, article, n, c) for age in range(WEEKS_KEPT)
                       for article, (n, c) in self._votes.get((lang, now - age, term), {}).items())

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, Tally]]:
        with self._lock:
            found = {t: self._tallies(lang, t) for t in dict.fromkeys(terms) if t}
        return {t: v for t, v in found.items() if v}

    def summary(self, lang: str) -> Mapping[str, Tally]:
        with self._lock:
            return self._tallies(lang, "")


# how strongly votes move a score: factor = exp(STRENGTH * tanh(mean vote over the query's terms))
DOWN_STRENGTH = 0.9
UP_STRENGTH = 0.25
# "did not help" re-ranks (other candidates may come first) but may push an answered article below the
# abstention threshold only after this much evidence (``net_votes``: about eight agreeing conversations):
# one unhappy customer must not leave the next one asking the same thing without any answer
VOTES_TO_ABSTAIN = 3.0


def adjustment_factors(
    votes: Mapping[str, Mapping[str, Tally]], terms: Sequence[str]
) -> dict[str, float]:
    """Multiplicative score factor per article id (< 1 after "did not help", > 1 after "helped")."""
    out: dict[str, float] = {}
    for art, mean in net_votes(votes, terms).items():
        strength = DOWN_STRENGTH if mean < 0 else UP_STRENGTH
        out[art] = math.exp(strength * math.tanh(mean))
    return out


def net_votes(votes: Mapping[str, Mapping[str, Tally]], terms: Sequence[str]) -> dict[str, float]:
    """The evidence per article id for a query: the mean tally over the query's terms, shrunk towards
    nothing until many votes agree: nothing below ``MIN_VOTES``, then (``PRIOR_VOTES``) -1 for four
    "did not help" on every term, -3.6 for eight, -13.9 for twenty."""
    if not terms:
        return {}
    net: dict[str, float] = defaultdict(float)
    count: dict[str, float] = defaultdict(float)
    for term in terms:
        for art, tally in votes.get(term, {}).items():
            net[art] += tally.net
            count[art] += tally.count
    out: dict[str, float] = {}
    for art in net:
        mean_net, mean_count = net[art] / len(terms), count[art] / len(terms)
        if mean_count >= MIN_VOTES:
            out[art] = mean_net * (mean_count / (mean_count + PRIOR_VOTES)) ** 2
    return out


def adjusted_score(score: float, mean_vote: float, threshold: float) -> float:
    """An article's confidence after feedback. Votes move it by :func:`adjustment_factors`' rule, but
    an article that was above ``threshold`` stays at least at it until ``VOTES_TO_ABSTAIN`` consistent
    "did not help" votes: before that, feedback only lets the other candidates come first."""
    strength = DOWN_STRENGTH if mean_vote < 0 else UP_STRENGTH
    out = min(1.0, score * math.exp(strength * math.tanh(mean_vote)))
    if score >= threshold and out < threshold and mean_vote > -VOTES_TO_ABSTAIN:
        out = threshold
    return out
