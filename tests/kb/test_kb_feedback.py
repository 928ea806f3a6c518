"""Feedback: many conversations' "did not help" lower an article for similar queries, "helped" raises it;
one conversation votes once per article, one vote weighs little, votes decay, editors see the tallies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bot.kb.article import KbError
from bot.kb.feedback import (
    HALF_LIFE_WEEKS,
    WEEK_SECONDS,
    WEEKS_KEPT,
    InMemoryFeedbackStore,
    Tally,
    adjustment_factors,
    net_votes,
)
from bot.kb.search import KnowledgeBase


def _score(kb: KnowledgeBase, query: str, article_id: str, lang: str = "en") -> float:
    return next(h.score for h in kb.search(query, lang, k=10).hits if h.article.id == article_id)


def _votes(kb: KnowledgeBase, query: str, article: str, helped: bool, conversations: int) -> None:
    for i in range(conversations):
        kb.record_feedback(query, "en", article, helped=helped, voter=f"conv-{i}")


def test_many_conversations_saying_it_did_not_help_lower_the_article_for_similar_queries(
        feedback_kb: KnowledgeBase) -> None:
    before = feedback_kb.search("stop my subscription", "en")
    assert before.hits[0].article.id == "subscription-cancel"
    unrelated_before = _score(feedback_kb, "charged twice", "billing-double-charge")
    _votes(feedback_kb, "I want to stop my subscription", "subscription-cancel", False, 8)
    after = feedback_kb.search("please stop my subscription", "en")
    assert after.hits[0].article.id == "subscription-pause"
    assert _score(feedback_kb, "stop my subscription", "subscription-cancel") < before.hits[0].score
    assert _score(feedback_kb, "charged twice", "billing-double-charge") == unrelated_before
    store = feedback_kb.feedback_store
    assert store is not None and store.votes("de", ["stop", "subscription"]) == {}  # kept per language


def test_one_conversation_cannot_poison_an_answer(feedback_kb: KnowledgeBase) -> None:
    query = "stop my subscription"
    before = feedback_kb.search(query, "en")
    assert before.hits[0].article.id == "subscription-cancel"
    counted = [feedback_kb.record_feedback(query, "en", "subscription-cancel", helped=False, voter="troll")
               for _ in range(20)]
    assert counted == [True] + [False] * 19  # one vote per conversation and article
    after = feedback_kb.search(query, "en")
    assert after.hits[0].article.id == "subscription-cancel" and not after.abstained  # the next customer is fine
    assert after.hits[0].score == before.hits[0].score
    store = feedback_kb.feedback_store
    assert store is not None and store.summary("en")["subscription-cancel"] == Tally(-1, 1)  # editors see it


def test_helped_raises_the_article(feedback_kb: KnowledgeBase) -> None:
    before = _score(feedback_kb, "take a break", "subscription-pause")
    _votes(feedback_kb, "take a break", "subscription-pause", True, 3)
    assert _score(feedback_kb, "take a break", "subscription-pause") > before


def test_evidence_grows_with_agreeing_conversations_not_with_one() -> None:
    assert net_votes({"stop": {"a": Tally(-2, 2)}}, ["stop"]) == {}  # two conversations move nothing
    four = net_votes({"stop": {"a": Tally(-4, 4)}}, ["stop"])["a"]
    eight = net_votes({"stop": {"a": Tally(-8, 8)}}, ["stop"])["a"]
    mixed = net_votes({"stop": {"a": Tally(0, 10)}}, ["stop"])["a"]
    assert four == pytest.approx(-1.0) and eight == pytest.approx(-3.56, abs=0.01) and mixed == 0


def test_votes_decay_and_are_forgotten() -> None:
    now = [100 * WEEK_SECONDS]
    store = InMemoryFeedbackStore(clock=lambda: now[0])
    store.add("en", ["x"], "a", -1)
    assert store.votes("en", ["x"])["x"]["a"] == Tally(-1.0, 1.0)
    now[0] += HALF_LIFE_WEEKS * WEEK_SECONDS
    assert store.votes("en", ["x"])["x"]["a"].net == pytest.approx(-0.5)
    now[0] += WEEKS_KEPT * WEEK_SECONDS
    assert store.votes("en", ["x"]) == {} or store.votes("en", ["x"])["x"]["a"].count == 0


def test_editors_see_the_tallies_per_article(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from stack.kb_cli import cmd_feedback

    store = InMemoryFeedbackStore()
    for i in range(3):
        store.add("de", ["abo", "kündigen"], "subscription-cancel", -1, voter=f"c{i}")
    store.add("de", ["abo"], "subscription-pause", 1, voter="c9")
    assert store.summary("de") == {"subscription-cancel": Tally(-3, 3), "subscription-pause": Tally(1, 1)}
    assert cmd_feedback(argparse.Namespace(lang=["de"]), store=store) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "de: 2 articles with votes"
    assert out[1].split()[0] == "subscription-cancel" and "did not help    3.0" in out[1]


def test_adjustment_factors_are_proportional_to_shared_terms() -> None:
    votes = {"stop": {"a": Tally(-6, 6)}, "subscription": {"a": Tally(-6, 6), "b": Tally(8, 8)}}
    f = adjustment_factors(votes, ["stop", "subscription"])
    g = adjustment_factors(votes, ["stop", "subscription", "now", "please"])
    assert f["a"] < g["a"] < 1.0 < f["b"]
    assert adjustment_factors(votes, []) == {}


def test_record_feedback_needs_a_store(shared_kb: KnowledgeBase) -> None:
    with pytest.raises(KbError):
        shared_kb.record_feedback("x", "en", "a", helped=True)


class BrokenStore:
    def add(self, lang: str, terms: Sequence[str], article_id: str, delta: int, voter: str | None = None) -> bool:
        raise ConnectionError("down")

    def votes(self, lang: str, terms: Sequence[str]) -> Mapping[str, Mapping[str, Tally]]:
        raise ConnectionError("down")

    def summary(self, lang: str) -> Mapping[str, Tally]:
        raise ConnectionError("down")


def test_a_feedback_outage_does_not_break_search(kb_root: Path, matrix_path: Path) -> None:
    kb = KnowledgeBase.load(kb_root, matrix_path, feedback=BrokenStore())  # its own KB: the shared one stays
    assert kb.search("charged twice", "en").hits[0].article.id == "billing-double-charge"


def test_several_consistent_did_not_help_votes_may_make_the_engine_abstain() -> None:
    from bot.kb.feedback import VOTES_TO_ABSTAIN, adjusted_score

    threshold = 0.47
    assert adjusted_score(0.6, -1.0, threshold) == threshold  # little evidence: still answered, ranked lower
    assert adjusted_score(0.6, -2.0, threshold) == threshold
    assert adjusted_score(0.6, -VOTES_TO_ABSTAIN, threshold) < threshold
    assert adjusted_score(0.9, -1.0, threshold) < 0.9
    assert adjusted_score(0.4, -1.0, threshold) < 0.4  # below the threshold already: may sink further
    assert adjusted_score(0.6, 1.0, threshold) > 0.6


def test_the_only_good_candidate_stays_answered_until_many_conversations_agree(feedback_kb: KnowledgeBase) -> None:
    query = "my payment failed"  # one clear candidate, nothing else near the threshold
    before = feedback_kb.search(query, "en")
    assert not before.abstained and before.hits[0].article.id == "billing-double-charge"
    _votes(feedback_kb, query, "billing-double-charge", False, 3)
    after = feedback_kb.search(query, "en")
    assert not after.abstained and after.hits[0].score < before.hits[0].score
    _votes(feedback_kb, query, "billing-double-charge", False, 10)  # conv-0..2 again count once: 10 in all
    assert feedback_kb.search(query, "en").abstained
