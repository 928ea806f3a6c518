"""``choose_threshold``: the operating point of the abstention threshold, pooled or in every language."""

from __future__ import annotations

from research.evaluate import Case, Outcome, choose_threshold, metrics


def outcome(lang: str, expected: str | None, top: str, score: float) -> Outcome:
    return Outcome(Case("q", lang, expected), (top,), score, 0.0, 0.1)


# de: out-of-scope queries score low, easy to separate; da: its out-of-scope queries score higher
CASES = [
    *(outcome("de", "a", "a", s) for s in (0.9, 0.8, 0.7, 0.6)),
    *(outcome("de", None, "a", s) for s in (0.1, 0.15, 0.2, 0.25)),
    *(outcome("da", "a", "a", s) for s in (0.9, 0.8, 0.5, 0.45)),
    *(outcome("da", None, "a", s) for s in (0.2, 0.3, 0.4, 0.55)),
]


def test_pooled_rule_can_leave_one_language_below_the_recall() -> None:
    t = choose_threshold(CASES, 0.85)
    assert metrics(CASES, t).oos_recall >= 0.85
    assert metrics([o for o in CASES if o.case.lang == "da"], t).oos_recall < 0.85
    assert metrics(CASES, t).top1 == 1.0


def test_per_language_rule_reaches_the_recall_in_every_language() -> None:
    t = choose_threshold(CASES, 0.85, per_language=True)
    for lang in ("de", "da"):
        assert metrics([o for o in CASES if o.case.lang == lang], t).oos_recall >= 0.85
    assert 0.55 < t <= 0.6  # the lowest such threshold: the most in-scope answers kept
    assert metrics(CASES, t).top1 == 6 / 8
