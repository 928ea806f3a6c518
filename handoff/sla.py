"""SLA maths (pure): priority, deadlines in business time, queue scores, expected waits."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.settings import BusinessHours

PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Policy:
    first_response_minutes: int
    resolution_minutes: int
    around_the_clock: bool  # True: wall-clock minutes; False: business minutes


POLICIES: dict[str, Policy] = {
    "P1": Policy(15, 4 * 60, True),
    "P2": Policy(30, 8 * 60, False),
    "P3": Policy(60, 24 * 60, False),
    "P4": Policy(4 * 60, 50 * 60, False),  # 5 business days of 10 hours
}

# How long a ticket may stay at a tier before it escalates (tier 1) or raises an alarm (tier 2).
TIER_LIMIT_MINUTES: dict[int, int] = {1: 20, 2: 4 * 60}
WARN_FRACTION = 0.8  # warn when 80 % of the time to a deadline is used up


@dataclass(frozen=True)
class Deadlines:
    first_response_due: float
    resolution_due: float
    tier_due: float | None


def raise_priority(priority: str, steps: int = 1, highest: str = "P1") -> str:
    index = max(PRIORITIES.index(priority) - steps, PRIORITIES.index(highest))
    return PRIORITIES[min(index, PRIORITIES.index(priority))]


def compute_priority(
    base: str,
    *,
    impact: str = "only_me",
    customer_tier: str = "standard",
    frustrated: bool = False,
    repeat_contact: bool = False,
    urgency: str = "normal",
) -> tuple[str, list[str]]:
    """Priority from the routing rule's base, raised by impact, customer tier, frustration, repeated
    contact and urgency. Only service-wide impact (or a P1 rule) reaches P1; other raises stop at P2.
    Returns the priority and the reasons for every raise."""
    priority = base
    reasons: list[str] = []
    if impact == "everyone":
        priority = "P1"
        reasons.append("impact: everyone")
    elif impact == "several":
        priority, reasons = _bump(priority, reasons, "impact: several customers")
    if customer_tier in ("vip", "b2b"):
        priority, reasons = _bump(priority, reasons, f"customer tier {customer_tier}")
    if frustrated:
        priority, reasons = _bump(priority, reasons, "customer frustrated")
    if repeat_contact:
        priority, reasons = _bump(priority, reasons, "repeated contact (3rd in 7 days)")
    if urgency == "critical":
        priority, reasons = _bump(priority, reasons, "urgency critical")
    return priority, reasons


def _bump(priority: str, reasons: list[str], reason: str) -> tuple[str, list[str]]:
    raised = raise_priority(priority, 1, highest="P2")
    if raised != priority:
        return raised, [*reasons, reason]
    return priority, reasons


def add_business_minutes(start: float, minutes: float, hours: BusinessHours) -> float:
    """``start`` plus ``minutes`` counted only inside business hours (unix seconds in, unix seconds out).
    Opening hours are local wall-clock times in ``hours.timezone`` (a DST day is not longer or shorter)."""
    return _add_business_seconds(_local(start, hours.timezone), start, minutes * 60.0, hours)


def _local(start: float, timezone: str) -> tuple[date, float]:
    """(local date, seconds since local midnight) of a unix time."""
    t = datetime.fromtimestamp(start, ZoneInfo(timezone))
    return t.date(), t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _add_business_seconds(local: tuple[date, float], start: float, remaining: float, hours: BusinessHours) -> float:
    day, second = local
    open_s, close_s = hours.start_minute * 60.0, hours.end_minute * 60.0
    days = hours.days
    if day.isoweekday() in days and open_s <= second and second + remaining <= close_s:
        return start + remaining  # fast path: open now and still open at the deadline
    for _ in range(3700):  # at most ~10 years of days; guards against a bad configuration
        if day.isoweekday() in days and second < close_s:
            second = max(second, open_s)
            if remaining <= close_s - second:
                at = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(hours.timezone))
                return (at + timedelta(seconds=second + remaining)).timestamp()
            remaining -= close_s - second
        day += _ONE_DAY
        second = 0.0
    raise ValueError("business hours never open")


_ONE_DAY = timedelta(days=1)


def business_seconds(start: float, end: float, hours: BusinessHours) -> float:
    """Seconds of business time between ``start`` and ``end`` (0 when ``end`` is not later), counted like
    ``add_business_minutes`` (local wall-clock opening hours): ``add_business_minutes(a, business_seconds(a,
    b) / 60)`` is ``b`` whenever ``b`` is inside opening hours."""
    if end <= start:
        return 0.0
    open_s, close_s = hours.start_minute * 60.0, hours.end_minute * 60.0
    (day, second), (last, end_second) = _local(start, hours.timezone), _local(end, hours.timezone)
    total = 0.0
    for _ in range(3700):
        stop = end_second if day == last else close_s
        if day.isoweekday() in hours.days:
            total += max(0.0, min(stop, close_s) - max(second, open_s))
        if day >= last:
            return total
        day += _ONE_DAY
        second = 0.0
    raise ValueError("the span is longer than ten years")


def elapsed_fraction(start: float, due: float, now: float, hours: BusinessHours, around_the_clock: bool) -> float:
    """How much of the window from ``start`` to the deadline ``due`` has passed at ``now`` (0 before, 1 at
    the deadline, more after it), counted in the time the deadline is counted in: business time, or wall
    clock for a 24/7 priority. A window with no business time in it jumps from 0 to 1 at ``due``."""
    if now <= start:
        return 0.0
    if around_the_clock:
        return (now - start) / (due - start) if due > start else (1.0 if now >= due else 0.0)
    total = business_seconds(start, due, hours)
    if total <= 0:
        return 1.0 if now >= due else 0.0
    if now >= due:  # past the deadline: business time since it, on top of the whole window
        return 1.0 + business_seconds(due, now, hours) / total
    return business_seconds(start, now, hours) / total


def time_at_fraction(start: float, due: float, fraction: float, hours: BusinessHours, around_the_clock: bool,
                     total: float | None = None) -> float:
    """The first moment at which ``elapsed_fraction`` reaches ``fraction`` (its inverse; ``start`` for 0 or
    less). ``elapsed_fraction`` never decreases, so from this moment on it stays at least ``fraction``.
    ``total``: ``business_seconds(start, due, hours)`` when the caller has it already."""
    if fraction <= 0:
        return start
    if around_the_clock:
        return start + fraction * (due - start) if due > start else max(due, start)
    if total is None:
        total = business_seconds(start, due, hours)
    if total <= 0:
        return max(due, start)
    if fraction >= 1:
        return due if fraction == 1 else add_business_minutes(due, (fraction - 1) * total / 60.0, hours)
    return add_business_minutes(start, fraction * total / 60.0, hours)


def add_minutes(start: float, minutes: float, hours: BusinessHours, around_the_clock: bool) -> float:
    if around_the_clock:
        return start + minutes * 60.0
    return add_business_minutes(start, minutes, hours)


def deadlines(priority: str, tier: int, start: float, hours: BusinessHours) -> Deadlines:
    policy = POLICIES[priority]
    limit = TIER_LIMIT_MINUTES.get(tier)
    if policy.around_the_clock:
        return Deadlines(start + policy.first_response_minutes * 60.0, start + policy.resolution_minutes * 60.0,
                         None if limit is None else start + limit * 60.0)
    local = _local(start, hours.timezone)  # converted once for the three deadlines
    return Deadlines(
        first_response_due=_add_business_seconds(local, start, policy.first_response_minutes * 60.0, hours),
        resolution_due=_add_business_seconds(local, start, policy.resolution_minutes * 60.0, hours),
        tier_due=None if limit is None else _add_business_seconds(local, start, limit * 60.0, hours),
    )


def tier_deadline(priority: str, tier: int, start: float, hours: BusinessHours) -> float | None:
    limit = TIER_LIMIT_MINUTES.get(tier)
    if limit is None:
        return None
    return add_minutes(start, limit, hours, POLICIES[priority].around_the_clock)


def warn_time(start: float, due: float) -> float:
    return start + (due - start) * WARN_FRACTION


def queue_score(priority: str, due: float) -> float:
    """Composite sorted-set score: priority first, then the earliest first-response deadline.
    Exact in a double: priority rank * 1e13 + deadline in milliseconds (< 1e13 until year 2286)."""
    return PRIORITIES.index(priority) * 1e13 + round(due * 1000)


def expected_wait_minutes(position: int, recent_waits: list[float], default_minutes: int) -> int:
    """Median of recent claim waits (seconds) in the queue times the queue position."""
    per_ticket = statistics.median(recent_waits) / 60.0 if recent_waits else float(default_minutes)
    return max(1, round(per_ticket * position))


def expected_first_response(now: float, first_response_due: float, priority: str, position: int,
                            recent_waits: list[float], default_minutes: int, hours: BusinessHours) -> float:
    """The one time a customer is told to expect the first answer, whenever they are told it: the SLA
    deadline (which already counts business hours), or later when the queue ahead is longer than the
    deadline allows (measured recent waits of the queue times the position, counted like the deadline;
    without measurements the commitment stands)."""
    if not recent_waits:
        return first_response_due
    by_queue = add_minutes(now, expected_wait_minutes(position, recent_waits, default_minutes), hours,
                           POLICIES[priority].around_the_clock)
    return max(first_response_due, by_queue)
