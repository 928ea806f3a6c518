"""handoff.analytics (pure): periods, the tally of each figure from events and signals, the edge cases
(zero denominators, events written before the new fields, a conversation answered and ticketed 25 h
later), additivity (the period's totals are the sums of its buckets) and the text summary."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.analytics import (
    DEFLECTION_WINDOW, UNKNOWN, Accumulator, Bucket, Period, StoredEvent, figures, is_final, merge, new_tally,
    parse_period, scan_start, summary_lines, tally_from_json,
)
from handoff.errors import InvalidRequest
from handoff.signals import Signal

NOW = 1_764_000_000.0  # Monday 2025-11-24 16:00 UTC
H = 3600.0
DAY = 86400.0
TODAY = 1_763_942_400.0  # 2025-11-24 00:00 UTC


def ev(kind: str, at: float, ref: str = "T-000001", **data: Any) -> StoredEvent:
    return StoredEvent(kind, ref, at, data)


def sig(kind: str, conv: str, at: float, **data: Any) -> Signal:
    return Signal(kind, conv, at, {"language": "en", **data})


def run(events: list[StoredEvent], signals: list[Signal], since: str = "7d", now: float = NOW,
        tz: str = "UTC") -> dict[str, Any]:
    period = parse_period(since, now, tz)
    acc = Accumulator(period.buckets, now, tz)
    acc.add_events(events)
    acc.add_signals(signals)
    return figures(period, acc.tallies(), {"events": None, "signals": None})


# -- periods ------------------------------------------------------------------------------------------------

def test_weeks_are_seven_days() -> None:
    assert [b.key for b in parse_period("2w", NOW, "UTC").buckets] == parse_period_keys(14)


def parse_period_keys(days: int) -> list[str]:
    return [b.key for b in parse_period(f"{days}d", NOW, "UTC").buckets]


def test_days_are_local_calendar_days_ending_now() -> None:
    period = parse_period("7d", NOW, "Europe/Berlin")
    assert period.unit == "day" and len(period.buckets) == 7
    assert [b.key for b in period.buckets][0::6] == ["2025-11-18", "2025-11-24"]
    assert period.buckets[0].start == TODAY - 6 * DAY - H  # midnight in Berlin is 23:00 UTC
    assert period.buckets[-1].end == NOW
    assert all(a.end == b.start for a, b in zip(period.buckets, period.buckets[1:]))


def test_a_dst_day_has_23_hours() -> None:
    period = parse_period("2d", 1_774_864_800.0, "Europe/Berlin")  # Monday 2026-03-30 10:00 UTC
    sunday, monday = period.buckets
    assert (sunday.key, monday.key) == ("2026-03-29", "2026-03-30")
    assert sunday.start == 1_774_738_800.0  # 2026-03-28 23:00 UTC = midnight in Berlin (CET)
    assert sunday.end - sunday.start == 23 * H  # the clocks went forward


def test_hours_are_clock_hours_and_the_first_one_starts_exactly_24_h_ago() -> None:
    period = parse_period("24h", NOW + 1234, "UTC")
    assert period.unit == "hour" and len(period.buckets) == 25
    assert period.buckets[0].start == NOW + 1234 - 24 * H
    assert period.buckets[0].key == "2025-11-23T16:00" and period.buckets[1].start == NOW - 23 * H
    assert period.buckets[-1].key == "2025-11-24T16:00" and period.buckets[-1].end == NOW + 1234
    assert len(parse_period("24h", NOW, "UTC").buckets) == 24  # on the hour: 24 whole hours


@pytest.mark.parametrize("since", ["0d", "91d", "73h", "13w", "7m", "", "7d ", "-1d", "1.5d", "d", "07d", "１d", "9" * 30 + "d"])
def test_a_bad_period_is_refused_with_the_reason(since: str) -> None:
    with pytest.raises(InvalidRequest, match="'since' must be a number of hours, days or weeks like 24h, 7d or 30d"):
        parse_period(since, NOW, "UTC")


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="unknown time zone"):
        parse_period("7d", NOW, "Mars/Olympus")


def test_a_day_is_final_once_its_answers_24_h_have_passed() -> None:
    day = Bucket("2025-11-20", TODAY - 4 * DAY, TODAY - 3 * DAY)
    assert not is_final(day, "day", day.end + DEFLECTION_WINDOW)
    assert is_final(day, "day", day.end + DEFLECTION_WINDOW + H)
    assert not is_final(day, "hour", NOW)
    assert scan_start(day, "UTC") == day.start - H


# -- deflection ---------------------------------------------------------------------------------------------

A = TODAY - 3 * DAY + 9 * H  # Friday 09:00: answered


@pytest.mark.parametrize(("ticket_after", "now", "outcome"), [
    (None, NOW, "deflected"),  # no ticket at all
    (1 * H, NOW, "ticketed"),
    (24 * H, NOW, "ticketed"),  # the window includes its end
    (25 * H, NOW, "deflected"),  # answered, then ticketed after 25 h: the answer deflected that problem
    (-H, NOW, "deflected"),  # a ticket before the answer is not caused by it
    (None, A + 2 * H, "pending"),  # 24 h not over: in neither number
    (3 * H, A + 5 * H, "ticketed"),  # known before the 24 h are over
])
def test_deflection_of_one_answered_conversation(ticket_after: float | None, now: float, outcome: str) -> None:
    events = [] if ticket_after is None else [ev("created", A + ticket_after, conversation_id="c1")]
    f = run(events, [sig("kb_answered", "c1", A)], now=now)["deflection"]["total"]
    assert f["answered"] == 1
    assert (f["numerator"], f["denominator"] - f["numerator"], f["pending"]) == {
        "deflected": (1, 0, 0), "ticketed": (0, 1, 0), "pending": (0, 0, 1)}[outcome]


def test_deflection_counts_a_conversation_once_a_day_from_its_first_answer() -> None:
    signals = [sig("kb_answered", "c1", A), sig("kb_answered", "c1", A + 11 * H),  # same day, later
               sig("kb_answered", "c1", A + DAY),  # the next day: counted again
               sig("kb_answered", "c2", A + H), sig("kb_no_answer", "c3", A)]
    events = [ev("created", A + 30 * H, conversation_id="c1"),  # 30 h after the first answer, 6 h after the third
              ev("attached", A + 2 * H, conversation_id="c2"),  # joined an open ticket: not deflected either
              ev("created", A + 2 * H, conversation_id="other")]
    f = run(events, signals)["deflection"]
    assert f["total"] == {"numerator": 1, "denominator": 3, "rate": 0.3333, "answered": 3, "ticketed": 2,
                          "pending": 0}
    friday, saturday = f["series"][3], f["series"][4]
    assert (friday["answered"], friday["numerator"], friday["ticketed"]) == (2, 1, 1)
    assert (saturday["answered"], saturday["numerator"], saturday["ticketed"]) == (1, 0, 1)


def test_a_ticket_event_without_the_conversation_cannot_be_matched() -> None:
    """Events written before `created` carried the conversation id: such a conversation counts as deflected."""
    f = run([ev("created", A + H, category="billing")], [sig("kb_answered", "c1", A)])["deflection"]["total"]
    assert (f["numerator"], f["denominator"]) == (1, 1)


def test_zero_denominators_give_no_rate() -> None:
    f = run([], [])
    assert f["deflection"]["total"] == {"numerator": 0, "denominator": 0, "rate": None, "answered": 0,
                                        "ticketed": 0, "pending": 0}
    assert f["helped_votes"]["total"]["rate"] is None
    assert f["escalation"]["total"] == {"numerator": 0, "denominator": 0, "rate": None, "by_watcher": 0,
                                        "by_agents": 0}
    assert f["sla_first_response"]["total"]["rate"] is None
    assert f["csat"]["total"] == {"numerator": 0, "denominator": 0, "rate": None, "average": None}
    assert f["incidents"]["total"] == {"opened": 0, "resolved": 0, "linked": 0, "unlinked": 0}
    assert len(f["deflection"]["series"]) == 7


# -- votes and signals --------------------------------------------------------------------------------------

def test_one_vote_per_conversation_article_and_day_the_last_one_counts() -> None:
    signals = [sig("kb_feedback", "c1", A, article_id="a", helped=True),
               sig("kb_feedback", "c1", A + H, article_id="a", helped=False),  # changed their mind
               sig("kb_feedback", "c1", A + H, article_id="b", helped=True),
               sig("kb_feedback", "c1", A, article_id="a", helped=True),  # a retried batch: same vote again
               sig("kb_feedback", "c2", A + DAY, article_id="a", helped=True)]
    f = run([], signals)
    assert f["helped_votes"]["total"] == {"numerator": 2, "denominator": 3, "rate": 0.6667}
    assert f["signals"]["total"] == {"kb_answered": 0, "kb_ambiguous": 0, "kb_no_answer": 0, "kb_feedback": 5,
                                     "declined": 0}


# -- escalations ---------------------------------------------------------------------------------------------

def test_escalation_rate_by_category_tag_article_and_agent() -> None:
    events = [
        ev("created", A, "T-1", category="technical", tags=["Playback", "tv"], articles=["a1"]),
        ev("created", A, "T-2", category="technical", tags=["playback"], articles=[]),
        ev("created", A, "T-3", category="billing", tags=[], articles=["a2"]),
        ev("claimed", A + H, "T-1", agent="alice", by="alice"),
        ev("claimed", A + H, "T-2", agent="alice", by="alice"),
        ev("claimed", A + H, "T-3", agent="bob", by="bob"),
        ev("escalated", A + 2 * H, "T-1", by="alice", category="technical", tags=["Playback", "tv"], articles=["a1"]),
        ev("escalated", A + 3 * H, "T-1", by="sla-watcher", category="technical", tags=["Playback", "tv"],
           articles=["a1"]),
        ev("escalated", A + 3 * H, "T-0", by="bob"),  # written before the fields existed; its ticket is older
    ]
    e = run(events, [])["escalation"]
    assert e["total"] == {"numerator": 3, "denominator": 3, "rate": 1.0, "by_watcher": 1, "by_agents": 2}
    assert e["by_category"]["rows"] == [
        {"key": "technical", "numerator": 2, "denominator": 2, "rate": 1.0},
        {"key": "billing", "numerator": 0, "denominator": 1, "rate": 0.0},
        {"key": UNKNOWN, "numerator": 1, "denominator": 0, "rate": None},
    ]
    assert {r["key"]: (r["numerator"], r["denominator"]) for r in e["by_tag"]["rows"]} == {
        "playback": (2, 2), "tv": (2, 1), UNKNOWN: (1, 0)}
    assert {r["key"]: (r["numerator"], r["denominator"]) for r in e["by_article"]["rows"]} == {
        "a1": (2, 1), "a2": (0, 1), UNKNOWN: (1, 0)}
    assert e["by_agent"]["rows"] == [  # the SLA watcher is not an agent: its escalations are in total.by_watcher
        {"key": "alice", "numerator": 1, "denominator": 2, "rate": 0.5},
        {"key": "bob", "numerator": 1, "denominator": 1, "rate": 1.0},
    ]
    friday = 3
    assert e["by_category"]["series"]["technical"][friday] == {"numerator": 2, "denominator": 2, "rate": 1.0}
    assert e["series"][friday] == {"numerator": 3, "denominator": 3, "rate": 1.0}


# -- SLA first response ---------------------------------------------------------------------------------------

def test_sla_first_response_is_decided_once_per_ticket() -> None:
    def reply(ref: str, at: float, **data: Any) -> StoredEvent:
        return ev("reply", at, ref, by="alice", **{"delivered": True, **data})

    events = [
        reply("T-1", A, first_response=True, due=A + H, met=True, breached=False, queue="billing"),
        reply("T-1", A + 2 * H, delivered=False),  # not a first response
        reply("T-2", A + 2 * H, first_response=True, due=A + H, met=False, breached=False, queue="billing"),
        ev("sla_breached", A + H, "T-3", by="sla-watcher", due=A + H, queue="tech-support"),
        reply("T-3", A + 5 * H, first_response=True, due=A + H, met=False, breached=True, queue="tech-support"),
        reply("T-4", A),  # written before replies said whether they were the first
        ev("sla_breached", A + H, "T-5", by="sla-watcher", due=A + H),  # before breaches named the queue
    ]
    s = run(events, [])["sla_first_response"]
    assert s["total"] == {"numerator": 1, "denominator": 4, "rate": 0.25}
    assert s["by_queue"]["rows"] == [
        {"key": "billing", "numerator": 1, "denominator": 2, "rate": 0.5},
        {"key": UNKNOWN, "numerator": 0, "denominator": 1, "rate": 0.0},
        {"key": "tech-support", "numerator": 0, "denominator": 1, "rate": 0.0},
    ]


# -- CSAT and incidents -----------------------------------------------------------------------------------------

def test_csat_and_incidents() -> None:
    events = [ev("rated", A, f"T-{i}", rating=r) for i, r in enumerate((5, 4, 1, 3))]
    events += [ev("rated", A, "T-9", rating=True), ev("rated", A, "T-8", rating=7), ev("rated", A, "T-7")]
    events += [ev("incident_opened", A, "INC-1"), ev("incident_linked", A, "INC-1", conversation_id="c1"),
               ev("incident_linked", A + H, "INC-1", conversation_id="c2"), ev("incident_resolved", A + 2 * H, "INC-1"),
               ev("incident_unlinked", A + H, "INC-1", conversation_id="c2")]
    f = run(events, [])
    assert f["csat"]["total"] == {"numerator": 2, "denominator": 4, "rate": 0.5, "average": 3.25}
    assert f["csat"]["distribution"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}
    assert f["incidents"]["total"] == {"opened": 1, "resolved": 1, "linked": 2, "unlinked": 1}
    assert f["incidents"]["series"][3] == {"opened": 1, "resolved": 1, "linked": 2, "unlinked": 1}


# -- buckets and additivity ---------------------------------------------------------------------------------------

def test_boundaries_now_and_the_future() -> None:
    events = [ev("created", TODAY - 6 * DAY - 1, "T-1"),  # before the period
              ev("created", TODAY - 6 * DAY, "T-2"),  # its first instant
              ev("created", TODAY, "T-3"),  # midnight: today, not yesterday
              ev("created", NOW, "T-4"),  # this very moment
              ev("created", NOW + 1, "T-5")]  # a clock ahead of ours
    f = run(events, [])["escalation"]
    assert [s["denominator"] for s in f["series"]] == [1, 0, 0, 0, 0, 0, 2]
    assert f["total"]["denominator"] == 3


def test_the_totals_are_the_sums_of_the_buckets() -> None:
    events = [ev("created", A + i * 7 * H, f"T-{i}", category=("billing", "technical")[i % 2], tags=["x"],
                 articles=["a"], conversation_id=f"c{i}") for i in range(12)]
    events += [ev("escalated", A + i * 5 * H, f"T-{i}", by="alice", category="billing", tags=["x"], articles=["a"])
               for i in range(5)]
    events += [ev("rated", A + i * 9 * H, f"T-{i}", rating=1 + i % 5) for i in range(9)]
    signals = [sig("kb_answered", f"c{i}", A + i * 4 * H) for i in range(20)]
    f = run(events, signals, since="30d")
    for name in ("helped_votes", "sla_first_response"):
        assert f[name]["total"]["numerator"] == sum(s["numerator"] for s in f[name]["series"])
    for key in ("numerator", "denominator", "answered", "pending"):
        assert f["deflection"]["total"][key] == sum(s[key] for s in f["deflection"]["series"])
    assert f["escalation"]["total"]["numerator"] == sum(s["numerator"] for s in f["escalation"]["series"]) == 5
    assert f["csat"]["total"]["denominator"] == sum(s["denominator"] for s in f["csat"]["series"]) == 9


def test_only_the_buckets_given_are_tallied() -> None:
    """The service tallies only the days it has not cached: a gap between them is not counted in either."""
    period = parse_period("7d", NOW, "UTC")
    missing = [period.buckets[0], period.buckets[5], period.buckets[6]]
    acc = Accumulator(missing, NOW, "UTC")
    acc.add_events([ev("created", b.start + H) for b in period.buckets])
    assert [t["created"].get("all", 0) for t in acc.tallies()] == [1, 1, 1]


def test_a_tally_survives_the_cache_and_merges() -> None:
    t = new_tally()
    t["created"]["all"] = 3
    t["ratings"]["5"] = 2
    back = tally_from_json(__import__("json").dumps(t))
    assert back == t
    assert merge([t, back])["created"] == {"all": 6}


def test_the_text_summary_states_numerators_and_denominators() -> None:
    events = [ev("created", A, f"T-{i}", category="billing", conversation_id=f"x{i}") for i in range(4)]
    events += [ev("escalated", A + H, "T-1", by="alice", category="billing", tags=[], articles=[])]
    events += [ev("rated", A, "T-1", rating=5), ev("rated", A, "T-2", rating=2)]
    signals = [sig("kb_answered", f"c{i}", A) for i in range(5)] + [sig("kb_answered", "x1", A)]
    text = "\n".join(summary_lines(run(events, signals)))
    assert "deflection: 5 of 6 answered conversations (83.3 %) got no ticket within 24 h; 0 pending" in text
    assert "escalation rate: 1 escalations of 4 new tickets (25.0 %); 0 by the SLA watcher" in text
    assert "by category: billing 1 of 4 new tickets (25.0 %)" in text
    assert "CSAT: 1 of 2 ratings (50.0 %) are 4-5; average 3.50" in text
    assert "SLA first response met: 0 of 0 decided (n/a)" in text


def test_a_period_value_object_is_frozen() -> None:
    period = parse_period("1d", NOW, "UTC")
    assert isinstance(period, Period)
    with pytest.raises(AttributeError):
        period.since = "2d"  # type: ignore[misc]
