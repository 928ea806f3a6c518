"""The early-warning benchmark (scripts/gen_ticket_history.py): a seed makes one history, the breaches are
what the tickets say, the tuning's fast score is risk.assess's, and the figures count what they claim."""

from __future__ import annotations

import importlib.util
import math
import sys
from types import ModuleType

import pytest

from handoff import risk
from handoff_helpers import ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_ticket_history", ROOT / "scripts" / "gen_ticket_history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen = _load()
MATRIX = gen.load_matrix(ROOT / "handoff" / "escalation_matrix.yml")


@pytest.fixture(scope="module")
def history() -> object:
    return gen.generate(7, 2, MATRIX)


def _trace(h: object) -> list[tuple[str, list[tuple[float, str, str]]]]:
    return [(c.ticket.reference, c.events) for c in h.cases]  # type: ignore[attr-defined]


def test_a_seed_makes_one_history(history: object) -> None:
    assert _trace(gen.generate(7, 2, MATRIX)) == _trace(history)
    assert _trace(gen.generate(8, 2, MATRIX)) != _trace(history)


def test_a_breach_is_a_first_reply_after_the_deadline(history: object) -> None:
    cases = history.cases  # type: ignore[attr-defined]
    assert len(cases) > 300
    for case in cases:
        first = case.states[0][1]
        replies = [at for at, kind, _ in case.events if kind == "reply"]
        # the watcher's rule: late from the deadline on (sla_checks: now >= due)
        late = (replies[0] if replies else history.end) >= first.first_response_due  # type: ignore[attr-defined]
        assert (case.breach_at is not None) == late, case.ticket.reference
    assert any(c.breach_at for c in cases) and any(c.complaint_at for c in cases)


@pytest.mark.parametrize("weights", [risk.WEIGHTS, risk.Weights(frustrated=30.0, message=20.0, waiting=70.0,
                                                               waiting_from=0.5, vip=5.0)])
def test_the_tunings_fast_score_is_risk_assess(history: object, weights: risk.Weights) -> None:
    fast = gen.evaluate(gen.feature_rows(history, 60.0), weights)["first_high"]
    slow = [o.first_high for o in gen.replay(history, weights, 60.0)]
    assert [None if math.isinf(x) else float(x) for x in fast] == slow
    assert any(x is not None for x in slow) and any(x is None for x in slow)


def test_the_figures_count_flags_before_the_outcome_and_false_alarms() -> None:
    outcome = gen.Outcome
    outcomes = [
        outcome(breach_at=1000.0, complaint_at=None, warned_at=900.0, first_high=400.0),  # flagged 10 min ahead
        outcome(breach_at=1000.0, complaint_at=None, warned_at=None, first_high=1000.0),  # at the breach: too late
        outcome(breach_at=None, complaint_at=2000.0, warned_at=None, first_high=200.0),  # 30 min ahead
        outcome(breach_at=None, complaint_at=None, warned_at=50.0, first_high=100.0),  # a false alarm
        outcome(breach_at=None, complaint_at=None, warned_at=None, first_high=None),
    ]
    got = gen.metrics(outcomes)
    assert got["tickets"] == 5 and got["flagged_tickets"] == 4
    assert got["breaches"]["flagged"] == 1 and got["breaches"]["of"] == 2
    assert got["breaches"]["lead_minutes"]["median"] == 10.0
    assert got["escalations"] == {"flagged": 1, "of": 1, "share": 1.0,
                                  "lead_minutes": {"p25": 30.0, "median": 30.0, "p75": 30.0}}
    assert got["false_alarms"]["tickets"] == 1 and got["false_alarms"]["of_flagged"] == 4
    warning = gen.metrics(outcomes, "warning")
    assert warning["breaches"]["flagged"] == 1 and warning["breaches"]["lead_minutes"]["median"] == round(100 / 60, 1)
    assert warning["flagged_tickets"] == 2 and warning["false_alarms"]["tickets"] == 1
    either = gen.metrics(gen.union(outcomes))
    assert either["breaches"]["lead_minutes"]["median"] == 10.0  # the earlier of the two flags
