"""SLA maths (pure, table-driven) and the SLA watcher with an injected clock against the real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from handoff_helpers import FakeClock, agent_headers, bot_headers, payload

from handoff import keys as appkeys
from handoff import sla
from handoff.settings import BusinessHours, parse_business_hours

UTC = BusinessHours()


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        ("2025-11-24 16:00", 60, "2025-11-24 17:00"),  # Monday, inside hours
        ("2025-11-24 17:30", 60, "2025-11-25 08:30"),  # runs over the evening
        ("2025-11-28 17:30", 60, "2025-12-01 08:30"),  # Friday evening -> Monday
        ("2025-11-29 10:00", 30, "2025-12-01 08:30"),  # Saturday
        ("2025-11-24 06:00", 20, "2025-11-24 08:20"),  # before opening
        ("2025-11-24 08:00", 24 * 60, "2025-11-26 12:00"),  # 24 business hours = 2.4 days of 10 h
    ],
)
def test_business_minutes(start: str, minutes: int, expected: str) -> None:
    assert sla.add_business_minutes(ts(start), minutes, UTC) == ts(expected)


def test_business_hours_in_a_timezone() -> None:
    berlin = parse_business_hours("mon-fri 09:00-17:00", "Europe/Berlin")
    # 16:30 UTC = 17:30 Berlin (closed) -> Tuesday 09:00 Berlin = 08:00 UTC, + 30 min
    assert sla.add_business_minutes(ts("2025-11-24 16:30"), 30, berlin) == ts("2025-11-25 08:30")



def _reference_business_minutes(start: float, minutes: int, hours: BusinessHours) -> float:
    """Slow and obviously right: walk local wall-clock time minute by minute, counting open minutes."""
    tz = ZoneInfo(hours.timezone)
    t = datetime.fromtimestamp(start, tz).replace(second=0, microsecond=0, tzinfo=None)
    offset = start - t.replace(tzinfo=tz).timestamp()  # start is on a whole minute in these cases
    assert offset == 0
    left = minutes
    while left:
        minute = t.hour * 60 + t.minute
        if t.isoweekday() in hours.days and hours.start_minute <= minute < hours.end_minute:
            left -= 1
        else:  # jump to the next opening (wall clock), minute stepping only inside opening hours
            nxt = t.replace(hour=0, minute=0) + timedelta(days=1 if minute >= hours.start_minute else 0)
            t = nxt + timedelta(minutes=hours.start_minute)
            continue
        t += timedelta(minutes=1)
    return t.replace(tzinfo=tz).timestamp()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_business_minutes_match_a_minute_by_minute_count(zone: str) -> None:
    hours = parse_business_hours("mon-fri 08:00-18:00", zone)
    rng = random.Random(zone)
    # random starts on whole minutes around the 2025 DST switches, and the SLA lengths in use
    starts = [ts("2025-03-27 00:00") + 60 * rng.randrange(0, 7 * 1440) for _ in range(40)]
    starts += [ts("2025-10-23 00:00") + 60 * rng.randrange(0, 7 * 1440) for _ in range(40)]
    for start in starts:
        for minutes in (20, 30, 60, 240, 480, 1440):
            assert sla.add_business_minutes(start, minutes, hours) == _reference_business_minutes(start, minutes, hours)

@pytest.mark.parametrize(
    ("priority", "tier", "start", "first", "resolution", "tier_due"),
    [
        ("P1", 3, "2025-11-24 23:00", "2025-11-24 23:15", "2025-11-25 03:00", None),  # 24/7
        ("P3", 1, "2025-11-24 16:00", "2025-11-24 17:00", "2025-11-27 10:00", "2025-11-24 16:20"),
        ("P3", 1, "2025-11-24 17:50", "2025-11-25 08:50", "2025-11-27 11:50", "2025-11-25 08:10"),
        ("P2", 2, "2025-11-24 16:00", "2025-11-24 16:30", "2025-11-25 14:00", "2025-11-25 10:00"),
        ("P4", 1, "2025-11-24 16:00", "2025-11-25 10:00", "2025-12-01 16:00", "2025-11-24 16:20"),
    ],
)
def test_deadlines(priority: str, tier: int, start: str, first: str, resolution: str, tier_due: str | None) -> None:
    d = sla.deadlines(priority, tier, ts(start), UTC)
    assert d.first_response_due == ts(first)
    assert d.resolution_due == ts(resolution)
    assert d.tier_due == (ts(tier_due) if tier_due else None)


@pytest.mark.parametrize(
    ("base", "kwargs", "expected"),
    [
        ("P3", {}, "P3"),
        ("P3", {"impact": "everyone"}, "P1"),
        ("P4", {"impact": "several"}, "P3"),
        ("P3", {"customer_tier": "vip"}, "P2"),
        ("P3", {"customer_tier": "b2b", "frustrated": True}, "P2"),  # raises stop at P2
        ("P4", {"customer_tier": "b2b", "frustrated": True}, "P2"),
        ("P4", {"frustrated": True}, "P3"),
        ("P4", {"repeat_contact": True}, "P3"),
        ("P3", {"urgency": "critical"}, "P2"),
        ("P1", {"frustrated": True}, "P1"),
    ],
)
def test_compute_priority(base: str, kwargs: dict[str, Any], expected: str) -> None:
    assert sla.compute_priority(base, **kwargs)[0] == expected


def test_queue_score_orders_priority_then_deadline() -> None:
    scores = [sla.queue_score("P2", 2_000_000_000), sla.queue_score("P1", 2_000_000_500),
              sla.queue_score("P2", 1_900_000_000), sla.queue_score("P4", 1.0)]
    assert sorted(range(4), key=lambda i: scores[i]) == [1, 2, 0, 3]


@pytest.mark.parametrize(
    ("position", "waits", "expected"),
    [(1, [], 10), (3, [], 30), (2, [60.0, 120.0, 600.0], 4), (1, [30.0], 1)],
)
def test_expected_wait(position: int, waits: list[float], expected: int) -> None:
    assert sla.expected_wait_minutes(position, waits, 10) == expected


def test_the_promise_is_the_deadline_unless_the_queue_is_longer() -> None:
    hours = parse_business_hours("mon-fri 08:00-18:00")
    monday_10 = 1_700_474_400.0  # 2023-11-20 10:00 UTC, a Monday
    due = sla.deadlines("P3", 1, monday_10, hours).first_response_due
    assert sla.expected_first_response(monday_10, due, "P3", 2, [300.0], 10, hours) == due  # 2 x 5 min < 60
    assert sla.expected_first_response(monday_10, due, "P3", 9, [], 10, hours) == due  # no measured waits
    late = sla.expected_first_response(monday_10, due, "P3", 9, [600.0], 10, hours)  # 9 x 10 min > 60
    assert late == monday_10 + 90 * 60
    friday_17 = monday_10 + 4 * 86400 + 7 * 3600  # the queue estimate counts business time too
    due = sla.deadlines("P3", 1, friday_17, hours).first_response_due
    assert sla.expected_first_response(friday_17, due, "P3", 9, [600.0], 10, hours) == friday_17 + 3 * 86400 - 9 * 3600 + 30 * 60


async def test_repeated_contact_raises_priority(client: TestClient) -> None:
    for i in range(3):
        body = payload(f"r-{i}", category="general", description="question", customer={"email": "x@example.com"})
        created = await (await client.post("/api/v1/tickets", json=body, headers=bot_headers())).json()
        ref = created["reference"]
        if i < 2:
            assert created["priority"] == "P3"
            resp = await client.post("/api/v1/agent/claim", json={"queues": ["tier1-general"]},
                                     headers=agent_headers())
            resp = await client.post(f"/api/v1/agent/tickets/{ref}/resolve", json={"resolution": "ok"},
                                     headers=agent_headers())
            assert resp.status == 200
    assert created["priority"] == "P2"


async def test_watcher_escalates_warns_and_breaches(client: TestClient, clock: FakeClock) -> None:
    service = client.app[appkeys.SERVICE]
    body = payload("w-1", category="general", description="question", customer={})
    created = await (await client.post("/api/v1/tickets", json=body, headers=bot_headers())).json()
    ref = created["reference"]
    assert created["queue"] == "tier1-general" and created["priority"] == "P3"
    clock.advance(19 * 60)
    assert await service.sweep_sla() == {"warned": 0, "breached": 0, "escalated": 0, "tier_alerts": 0,
                                         "risk_raised": 0}
    clock.advance(2 * 60)  # 21 minutes at tier 1
    assert (await service.sweep_sla())["escalated"] == 1
    ticket, lists = await service.view(ref)
    assert ticket.queue == "tech-support" and ticket.tier == 2 and ticket.status == "escalated"
    assert lists.history[-1]["by"] == "sla-watcher"
    clock.advance(28 * 60)  # 16:49, 80 % of the first-response time used
    assert (await service.sweep_sla())["warned"] == 1
    assert (await service.store.ticket(ref)).priority == "P2"
    assert (await service.sweep_sla())["warned"] == 0  # only once
    clock.advance(12 * 60)  # 17:01
    assert (await service.sweep_sla())["breached"] == 1
    queues = {q["queue"]: q for q in await service.queues()}
    assert queues["tech-support"]["sla_breaches"] == 1 and queues["tech-support"]["depth"] == 1
    events = [e["type"] for e in reversed(await service.store.events())]
    assert events == ["created", "escalated", "sla_warning", "sla_breached"]


async def test_watcher_is_safe_with_two_instances(make_client: Any, clock: FakeClock) -> None:
    one, two = await make_client(), await make_client()
    for i in range(30):
        body = payload(f"m-{i}", category="general", description="question", customer={})
        assert (await one.post("/api/v1/tickets", json=body, headers=bot_headers())).status == 201
    clock.advance(21 * 60)
    results = await asyncio.gather(one.app[appkeys.SERVICE].sweep_sla(), two.app[appkeys.SERVICE].sweep_sla(),
                                   one.app[appkeys.SERVICE].sweep_sla())
    assert sum(r["escalated"] for r in results) == 30
    queues = {q["queue"]: q["depth"] for q in await one.app[appkeys.SERVICE].queues()}
    assert queues["tier1-general"] == 0 and queues["tech-support"] == 30


async def test_background_watcher_runs_in_the_app(make_client: Any, settings: Any, clock: FakeClock) -> None:
    client = await make_client(dataclasses.replace(settings, sla_interval=0.05))
    body = payload("bg-1", category="billing", description="question", customer={})
    created = await (await client.post("/api/v1/tickets", json=body, headers=bot_headers())).json()
    assert created["queue"] == "billing"
    body = payload("bg-2", category="general", description="question", customer={})
    created = await (await client.post("/api/v1/tickets", json=body, headers=bot_headers())).json()
    clock.advance(25 * 60)
    for _ in range(100):
        ticket = await client.app[appkeys.STORE].ticket(created["reference"])
        if ticket.queue != "tier1-general":
            break
        await asyncio.sleep(0.05)
    assert ticket.queue == "tech-support"


async def test_tier2_limit_alert_and_expected_wait_from_history(client: TestClient, clock: FakeClock) -> None:
    service = client.app[appkeys.SERVICE]
    refs = []
    for i in range(3):
        body = payload(f"t2-{i}", category="billing", description="invoice question", customer={})
        refs.append((await (await client.post("/api/v1/tickets", json=body, headers=bot_headers())).json()))
    assert refs[0]["queue"] == "billing"
    clock.advance(5 * 60)
    resp = await client.post("/api/v1/agent/claim", json={"queues": ["billing"]}, headers=agent_headers())
    assert (await resp.json())["ticket"]["reference"] == refs[0]["reference"]
    status = await (await client.get(f"/api/v1/status/{refs[2]['secret_reference']}")).json()
    # the promise made at creation (60 business minutes, 5 used): the queue ahead (2 x median 5 min) is shorter
    assert status["queue_position"] == 2 and status["expected_wait_minutes"] == 55
    clock.advance(4 * 3600)  # past the 4-hour tier-2 limit (Monday 16:05 -> Tuesday 10:05 business time)
    clock.advance(16 * 3600)
    counts = await service.sweep_sla()
    assert counts["tier_alerts"] == 3 and counts["escalated"] == 0
    assert (await service.sweep_sla())["tier_alerts"] == 0
    types = [e["type"] for e in await service.store.events()]
    assert types.count("tier_limit_exceeded") == 3


# -- business time between two moments (the escalation-risk score counts its windows in it)----------------------------------------------------------

@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_business_seconds_is_the_inverse_of_adding_business_minutes(zone: str) -> None:
    hours = parse_business_hours("mon-fri 08:00-18:00", zone)
    rng = random.Random(zone)
    for _ in range(300):
        start = ts("2025-10-20 00:00") + 60 * rng.randrange(14 * 1440)
        minutes = rng.randrange(1, 3000)
        end = sla.add_business_minutes(start, minutes, hours)
        assert sla.business_seconds(start, end, hours) == pytest.approx(minutes * 60.0)
        later = end + 60 * rng.randrange(3 * 1440)  # outside opening hours counts nothing
        assert sla.business_seconds(start, later, hours) >= minutes * 60.0 - 1e-6


@pytest.mark.parametrize("priority", ["P1", "P2", "P3", "P4"])
def test_time_at_fraction_inverts_elapsed_fraction(priority: str) -> None:
    rng = random.Random(priority)
    around = sla.POLICIES[priority].around_the_clock
    for _ in range(200):
        start = ts("2025-11-24 00:00") + 60 * rng.randrange(7 * 1440)
        due = sla.deadlines(priority, 1, start, UTC).first_response_due
        fraction = rng.uniform(0.01, 1.5)
        at = sla.time_at_fraction(start, due, fraction, UTC, around)
        assert sla.elapsed_fraction(start, due, at, UTC, around) == pytest.approx(fraction)
        assert sla.elapsed_fraction(start, due, at - 60, UTC, around) < fraction


@pytest.mark.parametrize(("now", "fraction"), [("2025-11-29 10:30", 0.0), ("2025-11-29 11:00", 1.0),
                                               ("2025-11-29 12:00", 1.0)])
def test_a_window_without_business_time_jumps_at_its_deadline(now: str, fraction: float) -> None:
    start, due = ts("2025-11-29 10:00"), ts("2025-11-29 11:00")  # a Saturday
    assert sla.elapsed_fraction(start, due, ts(now), UTC, False) == fraction
    assert sla.time_at_fraction(start, due, 0.5, UTC, False) == due
