"""Feedback: "did not help" lowers an article for similar queries; "helped" raises it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bot.kb.article import KbError
from bot.kb.feedback import InMemoryFeedbackStore, adjustment_factors
from bot.kb.search import KnowledgeBase


def _score(kb: KnowledgeBase, query: str, article_id: str, lang: str = "en") -> float:
    return next(h.score for h in kb.search(query, lang, k=10).hits if h.article.id == article_id)


def test_did_not_help_lowers_the_article_for_similar_queries(feedback_kb: KnowledgeBase) -> None:
    before = feedback_kb.search("stop my subscription", "en")
    assert before.hits[0].article.id == "subscription-cancel"
    unrelated_before = _score(feedback_kb, "charged twice", "billing-double-charge")
    feedback_kb.record_feedback("I want to stop my subscription", "en", "subscription-cancel", helped=False)
    feedback_kb.record_feedback("stop the subscription now", "en", "subscription-cancel", helped=False)
    after = feedback_kb.search("please stop my subscription", "en")
    assert after.hits[0].article.id == "subscription-pause"
    assert _score(feedback_kb, "stop my subscription", "subscription-cancel") < before.hits[0].score
    assert _score(feedback_kb, "charged twice", "billing-double-charge") == unrelated_before
    # feedback is kept per language
    store = feedback_kb.feedback_store
    assert store is not None and store.votes("de", ["stop", "subscription"]) == {}


def test_helped_raises_the_article(feedback_kb: KnowledgeBase) -> None:
    before = _score(feedback_kb, "take a break", "subscription-pause")
    feedback_kb.record_feedback("take a break", "en", "subscription-pause", helped=True)
    assert _score(feedback_kb, "take a break", "subscription-pause") > before


def test_adjustment_factors_are_proportional_to_shared_terms() -> None:
    votes = {"stop": {"a": -2}, "subscription": {"a": -2, "b": 1}}
    f = adjustment_factors(votes, ["stop", "subscription"])
    g = adjustment_factors(votes, ["stop", "subscription", "now", "please"])
    assert f["a"] < g["a"] < 1.0 < f["b"]
    assert adjustment_factors(votes, []) == {}


def test_record_feedback_needs_a_store(shared_kb: KnowledgeBase) -> None:
    with pytest.raises(KbError):
        shared_kb.record_feedback("x", "en", "a", helped=True)


class BrokenStore:
    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int) -> None:
        raise ConnectionError("down")

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        raise ConnectionError("down")


def test_a_feedback_outage_does_not_break_search(shared_kb: KnowledgeBase) -> None:
    store = InMemoryFeedbackStore()
    store.add("en", ["x"], "a", 1)
    assert store.votes("en", ["x", "y"]) == {"x": {"a": 1}}
    original = shared_kb.feedback_store
    shared_kb.feedback_store = BrokenStore()
    try:
        assert shared_kb.search("charged twice", "en").hits[0].article.id == "billing-double-charge"
    finally:
        shared_kb.feedback_store = original


def test_one_did_not_help_vote_re_ranks_but_does_not_silence_the_query(feedback_kb: KnowledgeBase) -> None:
    query = "stop my subscription"
    before = feedback_kb.search(query, "en")
    assert not before.abstained and before.hits[0].article.id == "subscription-cancel"
    feedback_kb.record_feedback(query, "en", "subscription-cancel", helped=False)
    after = feedback_kb.search(query, "en")
    assert not after.abstained  # the next customer asking the same thing still gets an answer
    assert after.hits[0].article.id != "subscription-cancel"  # another candidate comes first
    assert _score(feedback_kb, query, "subscription-cancel") < before.hits[0].score


def test_several_consistent_did_not_help_votes_may_make_the_engine_abstain() -> None:
    from bot.kb.feedback import VOTES_TO_ABSTAIN, adjusted_score

    threshold = 0.47
    assert adjusted_score(0.6, -1.0, threshold) == threshold  # one vote: still answered, ranked lower
    assert adjusted_score(0.6, -2.0, threshold) == threshold
    assert adjusted_score(0.6, -VOTES_TO_ABSTAIN, threshold) < threshold
    assert adjusted_score(0.9, -1.0, threshold) < 0.9
    assert adjusted_score(0.4, -1.0, threshold) < 0.4  # below the threshold already: may sink further
    assert adjusted_score(0.6, 1.0, threshold) > 0.6


def test_one_vote_on_the_only_good_candidate_keeps_the_query_answered(feedback_kb: KnowledgeBase) -> None:
    query = "my payment failed"  # one clear candidate, nothing else near the threshold
    before = feedback_kb.search(query, "en")
    assert not before.abstained and before.hits[0].article.id == "billing-double-charge"
    feedback_kb.record_feedback(query, "en", "billing-double-charge", helped=False)
    after = feedback_kb.search(query, "en")
    assert not after.abstained and after.hits[0].score < before.hits[0].score
    for _ in range(2):  # three consistent votes: now the engine may hand off instead
        feedback_kb.record_feedback(query, "en", "billing-double-charge", helped=False)
    assert feedback_kb.search(query, "en").abstained
