"""Early warning (pure): the escalation risk of an open ticket, a 0-100 score with its level and reasons.

The score is the sum of the points below, cut at 100 and rounded down; each factor that adds points is a
reason, with its stable code and its number:

| code | number | points (``WEIGHTS``) |
|---|---|---|
| ``frustrated`` | 1 | 20: the bot saw the customer frustrated |
| ``repeat_contact`` | conversations in 7 days (``contacts_7d``) | 10 for the 2nd, 10 from the 3rd |
| ``vip``, ``b2b`` | 1 | 40, 40: the customer's tier |
| ``waiting`` | share of the first-response window used, while no agent has answered | 40 x the share, at most 40 |
| ``resolution_time`` | share of the resolution window used, once answered | the same |
| ``reopened`` | times reopened | 20 each, at most 2 |
| ``negative_ratings`` | the customer's earlier ratings of 1 or 2 (``RATING_MEMORY``: 180 days) | 15 each, at most 2 |
| ``messages`` | customer messages since the last agent reply | 10 each, at most 3 |

Levels: ``high`` from 60 points, ``medium`` from 35, else ``low``. Waiting alone (40) never makes a
ticket high: it takes 20 more points of the other reasons, and then waiting decides when (a frustrated
customer who wrote twice: at half of the window; a VIP who wrote twice: at once). Windows run from the
ticket's creation to its deadline and are counted like the deadline (business time, P1 around the
clock), so a night does not use up a business-hours window. The SLA watcher raises the priority of a
ticket once when its level becomes high (``transitions.sla_checks``), and ``high_from`` tells the
watcher's schedule when that happens: only the waiting time moves the score without a change to the
ticket.

The weights and thresholds were chosen on the training seeds of ``scripts/gen_ticket_history.py`` (a
seeded ticket history whose breaches and escalations follow written-down rules with hidden factors) and
measured on other seeds: docs/benchmarks.md, "Early warning (issue 16)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from handoff import sla
from handoff.settings import BusinessHours
from handoff.tickets import Ticket

LEVELS = ("low", "medium", "high")
REASON_CODES = ("frustrated", "repeat_contact", "vip", "b2b", "waiting", "resolution_time", "reopened",
                "negative_ratings", "messages")
NEGATIVE_RATING = 2  # a rating of at most this counts against the customer's later tickets ...
RATING_MEMORY = 180 * 86400.0  # ... for this many seconds
CONTACTS_CAP = 3  # repeat contact counts up to this many conversations in 7 days
NEGATIVE_CAP = 2  # earlier negative ratings count up to this many
REOPENED_CAP = 2
MESSAGES_CAP = 3


@dataclass(frozen=True)
class Weights:
    """Points of each factor and the levels' thresholds (see the module docstring). The defaults are what
    ``scripts/gen_ticket_history.py --tune`` chose on its training seeds 1, 2, 3 (the high threshold fixed
    at 60, every factor at least 5; ``medium`` is for display and was not tuned)."""

    frustrated: float = 20.0
    contacts_2: float = 10.0  # the second conversation in 7 days
    contacts_3: float = 10.0  # the third or more
    vip: float = 40.0
    b2b: float = 40.0
    waiting: float = 40.0  # at the end of the window: waiting alone never makes a ticket high
    waiting_from: float = 0.0  # the fraction of the window from which waiting counts
    reopened: float = 20.0  # per reopening
    negative_rating: float = 15.0  # per earlier negative rating
    message: float = 10.0  # per customer message since the last agent reply
    medium: float = 35.0
    high: float = 60.0


WEIGHTS = Weights()


@dataclass(frozen=True)
class Reason:
    code: str
    value: float  # the factor's number: a count, or the fraction of a window used
    points: float


@dataclass(frozen=True)
class Risk:
    score: int  # 0-100
    level: str  # low | medium | high
    reasons: tuple[Reason, ...]  # the factors that added points, most points first

    def as_json(self) -> dict[str, object]:
        return {"score": self.score, "level": self.level,
                "reasons": [{"code": r.code, "value": r.value, "points": round(r.points, 1)} for r in self.reasons]}


def assess(t: Ticket, now: float, hours: BusinessHours, w: Weights = WEIGHTS) -> Risk:
    """The ticket's escalation risk at ``now``."""
    reasons = list(_history_reasons(t, t.contacts_7d, t.negative_ratings, w))
    code, start, due = _window(t)
    fraction = sla.elapsed_fraction(start, due, now, hours, _around_the_clock(t))
    points = _waiting_points(fraction, w)
    if points > 0:
        reasons.append(Reason(code, round(fraction, 3), points))
    total = sum(r.points for r in reasons)
    score = min(100, math.floor(total))
    level = "high" if score >= w.high else "medium" if score >= w.medium else "low"
    return Risk(score, level, tuple(sorted(reasons, key=lambda r: -r.points)))


def high_from(t: Ticket, hours: BusinessHours, w: Weights = WEIGHTS, *, contacts_7d: int | None = None,
              negative_ratings: int | None = None) -> float | None:
    """The moment from which ``assess`` says ``high`` for the ticket as it is, or None when waiting alone
    cannot get it there (the window start when it is high already). ``contacts_7d`` and
    ``negative_ratings`` stand in for the ticket's own (the store's create script decides them)."""
    contacts = t.contacts_7d if contacts_7d is None else contacts_7d
    negatives = t.negative_ratings if negative_ratings is None else negative_ratings
    base = _fixed_points(t, w) + _contact_points(contacts, w) + _negative_points(negatives, w)
    return _Moments(t, hours, w).at(w.high - base)


def high_from_by_history(t: Ticket, hours: BusinessHours, contacts: range, w: Weights = WEIGHTS
                         ) -> dict[tuple[int, int], float | None]:
    """``high_from`` for each (contacts_7d in ``contacts``, negative_ratings up to ``NEGATIVE_CAP``) (a new
    ticket's schedule: see ``Store.create``)."""
    fixed, moments = _fixed_points(t, w), _Moments(t, hours, w)
    return {(c, n): moments.at(w.high - fixed - _contact_points(c, w) - _negative_points(n, w))
            for c in contacts for n in range(NEGATIVE_CAP + 1)}


class _Moments:
    """When waiting adds the missing points: the window's length is counted once for several questions."""

    def __init__(self, t: Ticket, hours: BusinessHours, w: Weights) -> None:
        self.hours, self.w = hours, w
        _code, self.start, self.due = _window(t)
        self.around = _around_the_clock(t)
        self.cache: dict[float, float | None] = {}
        self.total: float | None = None  # business seconds of the window, counted at the first question

    def at(self, missing: float) -> float | None:
        if missing <= 0:
            return self.start
        if missing > self.w.waiting:
            return None
        if missing not in self.cache:
            fraction = self.w.waiting_from + (1.0 - self.w.waiting_from) * missing / self.w.waiting
            if self.total is None and not self.around:
                self.total = sla.business_seconds(self.start, self.due, self.hours)
            self.cache[missing] = sla.time_at_fraction(self.start, self.due, fraction, self.hours, self.around,
                                                       self.total)
        return self.cache[missing]


def _fixed_points(t: Ticket, w: Weights) -> float:
    """The points of the reasons but waiting, repeat contact and earlier ratings (as ``_history_reasons``)."""
    points = w.frustrated if t.frustrated else 0.0
    tier = t.customer.get("tier", "standard")
    points += w.vip if tier == "vip" else w.b2b if tier == "b2b" else 0.0
    return (points + w.reopened * min(t.reopened, REOPENED_CAP)
            + w.message * min(t.messages_since_reply, MESSAGES_CAP))


def _contact_points(contacts: int, w: Weights) -> float:
    return w.contacts_3 if contacts >= CONTACTS_CAP else w.contacts_2 if contacts >= 2 else 0.0


def _negative_points(negatives: int, w: Weights) -> float:
    return w.negative_rating * min(negatives, NEGATIVE_CAP)


def _history_reasons(t: Ticket, contacts: int, negatives: int, w: Weights) -> list[Reason]:
    """The reasons that do not change with time alone."""
    out = []
    if t.frustrated:
        out.append(Reason("frustrated", 1, w.frustrated))
    if contacts >= 2:
        out.append(Reason("repeat_contact", contacts, _contact_points(contacts, w)))
    tier = t.customer.get("tier", "standard")
    if tier == "vip":
        out.append(Reason("vip", 1, w.vip))
    elif tier == "b2b":
        out.append(Reason("b2b", 1, w.b2b))
    if t.reopened:
        out.append(Reason("reopened", t.reopened, w.reopened * min(t.reopened, REOPENED_CAP)))
    if negatives:
        out.append(Reason("negative_ratings", negatives, _negative_points(negatives, w)))
    if t.messages_since_reply:
        out.append(Reason("messages", t.messages_since_reply, w.message * min(t.messages_since_reply, MESSAGES_CAP)))
    return [r for r in out if r.points > 0]


def _window(t: Ticket) -> tuple[str, float, float]:
    if t.first_response_at is None:
        return "waiting", t.created_at, t.first_response_due
    return "resolution_time", t.created_at, t.resolution_due


def _around_the_clock(t: Ticket) -> bool:
    # the deadlines were counted with the priority at creation; raises after it stop at P2 (sla.raise_priority
    # callers), so a P1 ticket was P1 from the start
    return sla.POLICIES[t.priority].around_the_clock


def _waiting_points(fraction: float, w: Weights) -> float:
    if fraction <= w.waiting_from:
        return 0.0
    return w.waiting * min(1.0, (fraction - w.waiting_from) / (1.0 - w.waiting_from))
