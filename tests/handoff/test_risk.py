"""The escalation-risk score (pure, table-driven) and the SLA watcher's risk step and schedule."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from handoff import risk, sla, transitions
from handoff.matrix_source import load_matrix
from handoff.risk import Weights, assess, high_from
from handoff.settings import BusinessHours
from handoff.tickets import Ticket
from handoff_helpers import ROOT

HOURS = BusinessHours()
MATRIX = load_matrix(ROOT / "handoff" / "escalation_matrix.yml")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


MONDAY_10 = ts("2025-11-24 10:00")


def _ticket(created: float = MONDAY_10, priority: str = "P3", **state: Any) -> Ticket:
    due = sla.deadlines(priority, 1, created, HOURS)
    base: dict[str, Any] = {
        "customer": {"tier": "standard"}, "language": "en", "category": "general", "queue": "tier1-general",
        "channels": ({"channel": "rest", "conversation_id": "c", "attached_at": created},), "tier": 1,
        "priority": priority, "created_at": created, "updated_at": created, "enqueued_at": created,
        "tier_entered_at": created, "first_response_due": due.first_response_due, "resolution_due": due.resolution_due,
        "warn_at": sla.warn_time(created, due.first_response_due), "reference": "T-000001",
    }
    return Ticket(**{**base, **state})


QUIET = _ticket()


def test_a_new_quiet_ticket_has_no_risk() -> None:
    assert assess(QUIET, MONDAY_10, HOURS) == risk.Risk(0, "low", ())


FACTORS = [
    ({"frustrated": True}, "frustrated", 1),
    ({"contacts_7d": 2}, "repeat_contact", 2),
    ({"contacts_7d": 3}, "repeat_contact", 3),
    ({"customer": {"tier": "vip"}}, "vip", 1),
    ({"customer": {"tier": "b2b"}}, "b2b", 1),
    ({"reopened": 1}, "reopened", 1),
    ({"negative_ratings": 1}, "negative_ratings", 1),
    ({"messages_since_reply": 2}, "messages", 2),
]


@pytest.mark.parametrize(("state", "code", "value"), FACTORS)
def test_each_factor_raises_the_score_and_says_why(state: dict[str, Any], code: str, value: float) -> None:
    got = assess(replace(QUIET, **state), MONDAY_10, HOURS)
    assert got.score > 0
    assert [(r.code, r.value) for r in got.reasons] == [(code, value)]
    assert got.reasons[0].points == pytest.approx(got.score, abs=1)


def test_the_docstring_states_the_weights() -> None:
    w, doc = risk.WEIGHTS, " ".join((risk.__doc__ or "").split())
    for text in (f"{w.frustrated:g}: the bot saw", f"{w.contacts_2:g} for the 2nd, {w.contacts_3:g} from the 3rd",
                 f"{w.vip:g}, {w.b2b:g}: the customer's tier", f"{w.waiting:g} x the share",
                 f"{w.reopened:g} each, at most {risk.REOPENED_CAP}", f"{w.negative_rating:g} each, at most {risk.NEGATIVE_CAP}",
                 f"{w.message:g} each, at most {risk.MESSAGES_CAP}", f"``high`` from {w.high:g} points",
                 f"``medium`` from {w.medium:g}"):
        assert text in doc, text
    assert w.waiting_from == 0  # the docstring's "40 x the share" says so


def test_the_reason_codes_are_the_documented_ones() -> None:
    assert {code for _, code, _ in FACTORS} | {"waiting", "resolution_time"} == set(risk.REASON_CODES)
    assert all(f"``{code}``" in (risk.__doc__ or "") for code in risk.REASON_CODES)


def test_a_third_contact_is_no_less_risk_than_a_second() -> None:  # the tuning found no gain in more
    assert assess(replace(QUIET, contacts_7d=3), MONDAY_10, HOURS).score >= assess(
        replace(QUIET, contacts_7d=2), MONDAY_10, HOURS).score


@pytest.mark.parametrize(("state", "more"), [
    ({"reopened": 1}, {"reopened": 2}),
    ({"negative_ratings": 1}, {"negative_ratings": 2}),
    ({"messages_since_reply": 1}, {"messages_since_reply": 2}),
    ({"messages_since_reply": 2}, {"messages_since_reply": 3}),
])
def test_more_of_a_factor_is_more_risk(state: dict[str, Any], more: dict[str, Any]) -> None:
    assert assess(replace(QUIET, **more), MONDAY_10, HOURS).score > assess(replace(QUIET, **state), MONDAY_10, HOURS).score


@pytest.mark.parametrize(("state", "capped"), [
    ({"contacts_7d": 3}, {"contacts_7d": 9}),
    ({"reopened": risk.REOPENED_CAP}, {"reopened": 7}),
    ({"negative_ratings": risk.NEGATIVE_CAP}, {"negative_ratings": 8}),
    ({"messages_since_reply": risk.MESSAGES_CAP}, {"messages_since_reply": 40}),
])
def test_counts_stop_adding_at_their_cap(state: dict[str, Any], capped: dict[str, Any]) -> None:
    one, many = assess(replace(QUIET, **state), MONDAY_10, HOURS), assess(replace(QUIET, **capped), MONDAY_10, HOURS)
    assert one.score == many.score and many.reasons[0].value == list(capped.values())[0]


def test_the_score_stops_at_100_with_every_reason() -> None:
    worst = replace(QUIET, frustrated=True, contacts_7d=5, customer={"tier": "vip"}, reopened=3, negative_ratings=4,
                    messages_since_reply=6)
    got = assess(worst, QUIET.first_response_due + 3600, HOURS)
    assert got.score == 100 and got.level == "high"
    assert {r.code for r in got.reasons} == {"frustrated", "repeat_contact", "vip", "reopened", "negative_ratings",
                                             "messages", "waiting"}
    assert [r.points for r in got.reasons] == sorted((r.points for r in got.reasons), reverse=True)


@pytest.mark.parametrize(("at", "fraction"), [
    ("2025-11-24 10:00", 0.0), ("2025-11-24 10:30", 0.5), ("2025-11-24 10:48", 0.8), ("2025-11-24 11:00", 1.0),
    ("2025-11-24 11:30", 1.5),
])
def test_waiting_is_the_share_of_the_first_response_window_used(at: str, fraction: float) -> None:
    w = Weights(waiting=40.0, waiting_from=0.0)
    got = assess(QUIET, ts(at), HOURS, w)
    if fraction == 0:
        assert got.reasons == ()
        return
    assert [(r.code, r.value) for r in got.reasons] == [("waiting", fraction)]
    assert got.reasons[0].points == pytest.approx(40.0 * min(fraction, 1.0))


def test_waiting_from_leaves_the_start_of_the_window_alone() -> None:
    w = Weights(waiting=40.0, waiting_from=0.5)
    assert assess(QUIET, ts("2025-11-24 10:30"), HOURS, w).reasons == ()
    assert assess(QUIET, ts("2025-11-24 10:45"), HOURS, w).reasons[0].points == pytest.approx(20.0)


@pytest.mark.parametrize(("at", "fraction"), [
    ("2025-11-24 18:00", 0.5), ("2025-11-25 03:00", 0.5), ("2025-11-25 08:00", 0.5), ("2025-11-25 08:15", 0.75),
])
def test_waiting_counts_business_time_like_the_deadline(at: str, fraction: float) -> None:
    evening = _ticket(created=ts("2025-11-24 17:30"))  # P3: 30 minutes today, 30 tomorrow morning
    assert evening.first_response_due == ts("2025-11-25 08:30")
    assert assess(evening, ts(at), HOURS).reasons[0].value == fraction


def test_p1_waiting_runs_around_the_clock() -> None:
    night = _ticket(created=ts("2025-11-24 23:00"), priority="P1")
    assert assess(night, ts("2025-11-24 23:06"), HOURS, Weights(waiting=40.0)).reasons[0].value == pytest.approx(0.4)


def test_after_the_first_response_the_resolution_window_counts() -> None:
    answered = replace(QUIET, first_response_at=MONDAY_10 + 600, status="waiting_customer")
    got = assess(answered, ts("2025-11-25 10:00"), HOURS, Weights(waiting=40.0))  # 10 of 24 business hours
    assert [(r.code, r.value) for r in got.reasons] == [("resolution_time", round(10 / 24, 3))]


@pytest.mark.parametrize(("state", "level"), [
    ({}, "low"),
    ({"frustrated": True}, "low"),  # 29
    ({"frustrated": True, "messages_since_reply": 1}, "medium"),  # 30
    ({"frustrated": True, "messages_since_reply": 3}, "medium"),  # 59
    ({"frustrated": True, "messages_since_reply": 3, "customer": {"tier": "b2b"}}, "high"),  # 60
])
def test_levels(state: dict[str, Any], level: str) -> None:
    w = Weights(frustrated=29.0, message=10.0, b2b=1.0, medium=30.0, high=60.0)
    assert assess(replace(QUIET, **state), MONDAY_10, HOURS, w).level == level


# -- when the level becomes high (the SLA watcher's schedule) -----------------------------------------------

W = Weights(frustrated=20.0, message=10.0, vip=60.0, waiting=40.0, waiting_from=0.25, high=60.0)


@pytest.mark.parametrize(("state", "expected"), [
    ({}, None),  # waiting alone (40) never reaches 60
    ({"customer": {"tier": "vip"}}, MONDAY_10),  # high from the start of its window
    ({"frustrated": True}, ts("2025-11-24 11:00")),  # 20 + 40 at the end of the window
    ({"frustrated": True, "messages_since_reply": 2}, ts("2025-11-24 10:37:30")),  # 40 + 20: 25 % + half of 75 %
])
def test_high_from(state: dict[str, Any], expected: float | None) -> None:
    ticket = replace(QUIET, **state)
    assert high_from(ticket, HOURS, W) == expected
    if expected is not None:
        assert assess(ticket, expected + 1, HOURS, W).level == "high"
    if expected is not None and expected > MONDAY_10:
        assert assess(ticket, expected - 1, HOURS, W).level != "high"


def test_high_from_agrees_with_assess_on_random_tickets() -> None:
    rng = random.Random(16)
    for _ in range(300):
        created = ts("2025-11-24 00:00") + 60 * rng.randrange(7 * 1440)
        ticket = _ticket(created=created, priority=rng.choice(["P1", "P2", "P3", "P4"]), frustrated=rng.random() < 0.5,
                         contacts_7d=rng.randint(1, 4), customer={"tier": rng.choice(["standard", "vip", "b2b"])},
                         reopened=rng.randint(0, 2), negative_ratings=rng.randint(0, 2),
                         messages_since_reply=rng.randint(0, 4))
        if rng.random() < 0.3:
            ticket = replace(ticket, first_response_at=created + 60)
        at = high_from(ticket, HOURS)
        for now in [created + 60 * rng.randrange(6 * 1440) for _ in range(20)]:
            if at is None or abs(now - at) > 0.01:
                assert (assess(ticket, now, HOURS).level == "high") == (at is not None and now >= at), (ticket, now)


# -- the SLA watcher's risk step ------------------------------------------------------------------------------

RISKY = replace(QUIET, frustrated=True, contacts_7d=3, customer={"tier": "vip"}, negative_ratings=2,
                messages_since_reply=3)


def test_the_risky_ticket_is_high_at_once() -> None:
    assert assess(RISKY, MONDAY_10, HOURS).level == "high"  # the step tests below rely on it


@pytest.mark.parametrize(("priority", "raised"), [("P4", "P3"), ("P3", "P2"), ("P2", "P2"), ("P1", "P1")])
def test_high_risk_raises_priority_once(priority: str, raised: str) -> None:
    ticket = replace(RISKY, priority=priority)
    assert "risk" in transitions.sla_checks(ticket, MONDAY_10 + 60, HOURS)
    result = transitions.sla_step(ticket, "risk", MONDAY_10 + 60, MATRIX, HOURS)
    assert result is not None
    after, event = result
    assert after.priority == raised and after.risk_raised
    assert event.kind == "risk_raised" and event.by == transitions.SYSTEM
    assessed = assess(ticket, MONDAY_10 + 60, HOURS)
    assert event.data["reasons"] == [r.code for r in assessed.reasons]
    assert set(event.data["reasons"]) >= {"frustrated", "repeat_contact", "vip", "negative_ratings", "messages"}
    assert event.data["score"] == assessed.score and f"escalation risk {assessed.score} (" in event.reason
    assert f"priority {priority} -> {raised}" in event.reason
    assert "risk" not in transitions.sla_checks(after, MONDAY_10 + 120, HOURS)
    assert transitions.sla_step(after, "risk", MONDAY_10 + 120, MATRIX, HOURS) is None


def test_raises_never_go_beyond_p2_together_with_the_warning() -> None:
    ticket = replace(RISKY, priority="P3")
    for kind in ("risk", "warn"):
        result = transitions.sla_step(ticket, kind, ticket.warn_at, MATRIX, HOURS)
        assert result is not None
        ticket = result[0]
    assert ticket.priority == "P2" and ticket.warned and ticket.risk_raised


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_no_risk_step_for_a_ticket_that_is_not_open(status: str) -> None:
    ticket = replace(RISKY, status=status)
    assert transitions.sla_checks(ticket, MONDAY_10 + 60, HOURS) == []
    assert transitions.sla_step(ticket, "risk", MONDAY_10 + 60, MATRIX, HOURS) is None
    assert transitions.next_sla_check(ticket, HOURS) is None


def test_a_quiet_ticket_gets_no_risk_step() -> None:
    for minutes in range(0, 24 * 60, 7):
        assert "risk" not in transitions.sla_checks(QUIET, MONDAY_10 + minutes * 60, HOURS)


def test_the_schedule_has_the_moment_the_risk_becomes_high() -> None:
    # waiting alone cannot make it high; with these reasons it does before the first-response warning
    ticket = replace(QUIET, frustrated=True, messages_since_reply=3)
    at = high_from(ticket, HOURS)
    assert at is not None and MONDAY_10 < at < ticket.warn_at, "the weights no longer make this ticket high early"
    assert transitions.next_sla_check(ticket, HOURS) == at
    assert "risk" in transitions.sla_checks(ticket, at, HOURS)
    assert "risk" not in transitions.sla_checks(ticket, at - 0.001, HOURS)
    raised = replace(ticket, risk_raised=True)  # done: the deadline steps are next again
    assert transitions.next_sla_check(raised, HOURS) == ticket.warn_at


def test_the_create_script_gets_the_schedule_for_each_customer_history() -> None:
    ticket = replace(QUIET, frustrated=True)
    table = transitions.next_sla_checks_by_history(ticket, HOURS)
    assert set(table) == {f"{c}:{n}" for c in range(1, risk.CONTACTS_CAP + 1) for n in range(risk.NEGATIVE_CAP + 1)}
    for key, at in table.items():
        contacts, negatives = map(int, key.split(":"))
        assert at == transitions.next_sla_check(replace(ticket, contacts_7d=contacts, negative_ratings=negatives), HOURS)
    assert table["3:2"] is not None and table["3:2"] < table["1:0"]  # the history brings the moment forward


# -- what the score reads is kept by the transitions ----------------------------------------------------------

def test_customer_messages_count_until_the_agent_replies() -> None:
    ticket = replace(QUIET, status="claimed", agent="alice")
    for n in (1, 2, 3):
        ticket = transitions.customer_message(ticket, "c", "hello?", MONDAY_10 + n)[0]
        assert ticket.messages_since_reply == n
    ticket = transitions.reply(ticket, "alice", "agent", "here I am", True, MONDAY_10 + 10)[0]
    assert ticket.messages_since_reply == 0
    ticket = transitions.customer_message(ticket, "c", "thanks, but", MONDAY_10 + 20)[0]
    assert ticket.messages_since_reply == 1 and ticket.status == "claimed"


def test_the_customer_writing_again_from_another_conversation_counts() -> None:
    request: Any = {"conversation_id": "c2", "channel": "rest", "transcript": []}
    assert transitions.attach(QUIET, request, MONDAY_10 + 60)[0].messages_since_reply == 1  # type: ignore[index]
