"""Analytics of a period from the ``events`` stream (what happened to tickets) and the ``signals`` stream
(what the bot did with each customer problem). Pure: no I/O; ``handoff.reporting`` reads the streams
through the store and feeds them in.

A period is split into buckets (days, or hours for ``24h``) in the service's time zone. Every figure is a
count or a ratio with its numerator and denominator stated, per bucket (the "over time" series) and for the
whole period. The counts of one bucket are a ``Tally`` (``{family: {key: count}}``), additive, so the
period's totals are the sums of its buckets, and the tallies of complete past days can be cached.

Definitions (also served with the figures, ``DEFINITIONS``):
- deflection: of the conversations the KB answered (``kb_answered``; a conversation counts once per local
  day, at its first answer that day), those with no ticket for that conversation (``created`` or
  ``attached`` with its conversation id) within 24 h of that answer, over those whose 24 h have passed or
  that got a ticket. Answered less than 24 h ago and no ticket yet: ``pending``, in neither number.
- helped votes: ``kb_feedback`` votes with helped = true over all votes; one vote per conversation,
  article and day (the last one counts).
- escalation rate: escalations (``escalated`` events, by agents and by the SLA watcher) in the period over
  tickets created in the period, for all tickets and per category, tag and article (the articles shown
  that did not help); per agent: the agent's escalations over the agent's claims in the period (a ticket
  claimed twice counts twice; the SLA watcher's escalations are in the total, not an agent's).
- SLA first response met: per queue, tickets whose first-response deadline was decided in the period (the
  first agent reply, or the SLA watcher's breach, whichever came first) and met (the first reply at or
  before the deadline) over all decided.
- CSAT: ratings 4-5 over all ratings given in the period, and the average rating.
- incidents: ``incident_opened`` / ``incident_resolved`` events, conversations linked to an incident
  (``incident_linked`` events: reported, or told by the bot) and unlinked again (``incident_unlinked``).
Events written before these figures existed lack some fields: they count under the key ``(unknown)``;
a reply without the ``first_response`` mark is not counted for the SLA.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handoff.errors import InvalidRequest
from handoff.schema import SIGNAL_TYPES
from handoff.signals import Signal

DEFLECTION_WINDOW = 24 * 3600.0  # a ticket within this long after the KB's answer: not deflected
READ_SLACK = 3600.0  # a signal's ``at`` may be up to an hour after its arrival: read the streams this much earlier
LATE_GRACE = 3600.0  # a day's tally is final (cacheable) this long after its deflection window closed
MAX_DAYS = 90  # the streams keep 90 days
MAX_HOURS = 72
CACHE_VERSION = "v1"  # part of the cache key: a change of the definitions or the tally's shape bumps it
UNKNOWN = "(unknown)"  # the key of events written before a field existed
WATCHER = "sla-watcher"  # handoff.transitions.SYSTEM: who the SLA watcher's changes are by
TOP_SERIES = 5  # keys of a dimension that get an over-time series
INCIDENT_TYPES = ("incident_opened", "incident_resolved", "incident_linked", "incident_unlinked")

DEFINITIONS = {
    "deflection": "conversations answered by the KB (once per conversation and day) with no ticket for that "
                  "conversation within 24 h, over those answered whose 24 h have passed or that got a ticket; "
                  "pending = answered less than 24 h ago without a ticket yet (in neither number)",
    "helped_votes": "'helped' votes over all votes (one per conversation, article and day: the last one)",
    "escalation": "escalations (by agents and the SLA watcher) in the period over tickets created in the period; "
                  "per agent: the agent's escalations over the agent's claims in the period",
    "sla_first_response": "first responses decided in the period (the first agent reply or the SLA breach, "
                          "whichever came first) that met the deadline, over all decided",
    "csat": "ratings of 4 or 5 over all ratings given in the period; average of all ratings",
    "incidents": "incident_opened and incident_resolved events; conversations linked to an incident "
                 "(incident_linked events) and unlinked again (incident_unlinked events)",
}

Tally = dict[str, dict[str, int]]  # family -> key -> count; JSON as it is (the day cache)
FAMILIES = (
    "signals", "deflection", "votes", "created", "created_by_category", "created_by_tag", "created_by_article",
    "claimed_by_agent", "escalated", "escalated_by_category", "escalated_by_tag", "escalated_by_article",
    "escalated_by_agent", "sla_due", "sla_met", "ratings", "incidents",
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One entry of the events stream: ``data`` holds the event's data with ``by`` and ``reason``."""

    type: str
    ref: str
    at: float
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Bucket:
    key: str  # 2025-11-24 (a local day) or 2025-11-24T16:00 (a local hour)
    start: float
    end: float  # the next bucket's start; the last one ends at the period's end (included)


@dataclass(frozen=True)
class Period:
    since: str
    unit: str  # day | hour
    start: float
    end: float  # now
    timezone: str
    buckets: tuple[Bucket, ...]


# -- periods ------------------------------------------------------------------------------------------------

_SINCE = re.compile(r"^([1-9][0-9]{0,2})([hdw])$")


def zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"unknown time zone {timezone!r}") from None


def parse_period(since: str, now: float, timezone: str) -> Period:
    """``Nd``: today and the N-1 local days before it, by day (``Nw``: 7N days); ``Nh``: the last N hours, by
    local clock hour (the first bucket starts at now - N h). A bad value raises InvalidRequest with the reason."""
    match = _SINCE.match(since)
    limits = {"d": MAX_DAYS, "w": MAX_DAYS // 7, "h": MAX_HOURS}
    if not match or int(match.group(1)) > limits[match.group(2)]:
        raise InvalidRequest(f"'since' must be a number of hours, days or weeks like 24h, 7d or 30d (at most "
                             f"{MAX_HOURS}h, {MAX_DAYS}d or {MAX_DAYS // 7}w), got {since[:20]!r}")
    n, unit = int(match.group(1)), match.group(2)
    tz = zone(timezone)
    if unit in "dw":
        n *= 7 if unit == "w" else 1
        today = datetime.fromtimestamp(now, tz).date()
        days = [today - timedelta(days=n - 1 - i) for i in range(n)]
        starts = [day_start(d, tz) for d in days]
        ends = [*starts[1:], now]
        buckets = tuple(Bucket(d.isoformat(), s, e) for d, s, e in zip(days, starts, ends))
        return Period(since, "day", starts[0], now, timezone, buckets)
    start = now - n * 3600.0
    first = datetime.fromtimestamp(start, tz).replace(minute=0, second=0, microsecond=0).timestamp()
    starts = [start, *(first + 3600.0 * i for i in range(1, n + 1) if first + 3600.0 * i < now)]
    ends = [*starts[1:], now]
    buckets = tuple(Bucket(datetime.fromtimestamp(s, tz).strftime("%Y-%m-%dT%H:00"), s, e)
                    for s, e in zip(starts, ends))
    return Period(since, "hour", start, now, timezone, buckets)


def day_start(day: date, tz: ZoneInfo) -> float:
    """Local midnight of ``day`` as unix seconds."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def scan_start(bucket: Bucket, timezone: str) -> float:
    """Where reading the streams for ``bucket`` must begin: the local midnight of its start (a conversation
    counts once per day, at its first answer that day), less the read slack."""
    tz = zone(timezone)
    return day_start(datetime.fromtimestamp(bucket.start, tz).date(), tz) - READ_SLACK


def is_final(bucket: Bucket, unit: str, now: float) -> bool:
    """A whole past day whose tally can no longer change (its last answers' 24 h and a grace have passed)."""
    return unit == "day" and now >= bucket.end + DEFLECTION_WINDOW + LATE_GRACE


# -- tallies ------------------------------------------------------------------------------------------------

def new_tally() -> Tally:
    return {family: {} for family in FAMILIES}


def _add(tally: Tally, family: str, key: str, n: int = 1) -> None:
    counts = tally[family]
    counts[key] = counts.get(key, 0) + n


def merge(tallies: Iterable[Tally]) -> Tally:
    out = new_tally()
    for tally in tallies:
        for family, counts in tally.items():
            for key, n in counts.items():
                _add(out, family, key, n)
    return out


def tally_from_json(text: str) -> Tally:
    raw = json.loads(text)
    out = new_tally()
    for family in FAMILIES:
        out[family] = {str(k): int(v) for k, v in raw.get(family, {}).items()}
    return out


def _keys(data: Mapping[str, Any], name: str, lower: bool = False) -> set[str]:
    """The values of a list field of an event (missing: the unknown key)."""
    if name not in data:
        return {UNKNOWN}
    values = data.get(name) or []
    return {str(v).lower() if lower else str(v) for v in values if isinstance(v, str)}


class Accumulator:
    """Tallies the entries of both streams into the buckets; feed it batches in stream order, then call
    ``tallies()``. Entries outside the buckets are read only for what they tell about others (a ticket
    created after the period for a conversation answered in it)."""

    def __init__(self, buckets: Sequence[Bucket], now: float, timezone: str) -> None:
        self.buckets = tuple(buckets)
        self.now = now
        self.tz = zone(timezone)
        self._starts = [b.start for b in self.buckets]
        self._ends = [b.end for b in self.buckets]
        self._tallies = [new_tally() for _ in self.buckets]
        self._tickets: dict[str, list[float]] = {}  # conversation -> times a ticket was created for / attached
        self._answers: dict[tuple[str, int], float] = {}  # (conversation, local day) -> its first KB answer
        self._votes: dict[tuple[str, str, int], tuple[float, bool]] = {}  # (conv, article, day) -> last vote

    def _bucket(self, at: float) -> Tally | None:
        """The tally of the bucket holding ``at`` (buckets are half-open, but the one ending now keeps its
        end: what happened at this very moment is in the period); None outside them."""
        i = bisect_right(self._starts, at) - 1
        if i < 0:
            return None
        end = self._ends[i]
        return self._tallies[i] if at < end or (at == end and end >= self.now) else None

    def _day(self, at: float) -> int:
        try:
            return datetime.fromtimestamp(at, self.tz).toordinal()
        except (OverflowError, OSError, ValueError):  # not a time (the stream was written by hand)
            return 0

    def add_events(self, events: Iterable[StoredEvent]) -> None:
        for e in events:
            data = e.data
            if e.type in ("created", "attached") and data.get("conversation_id"):
                self._tickets.setdefault(str(data["conversation_id"]), []).append(e.at)
            tally = self._bucket(e.at)
            if tally is None:
                continue
            kind = e.type
            if kind == "created":
                _add(tally, "created", "all")
                _add(tally, "created_by_category", str(data.get("category") or UNKNOWN))
                for tag in _keys(data, "tags", lower=True):
                    _add(tally, "created_by_tag", tag)
                for article in _keys(data, "articles"):
                    _add(tally, "created_by_article", article)
            elif kind == "claimed":
                _add(tally, "claimed_by_agent", str(data.get("agent") or data.get("by") or UNKNOWN))
            elif kind == "escalated":
                by = str(data.get("by") or UNKNOWN)
                _add(tally, "escalated", "all")
                _add(tally, "escalated", "by_watcher" if by == WATCHER else "by_agents")
                _add(tally, "escalated_by_category", str(data.get("category") or UNKNOWN))
                for tag in _keys(data, "tags", lower=True):
                    _add(tally, "escalated_by_tag", tag)
                for article in _keys(data, "articles"):
                    _add(tally, "escalated_by_article", article)
                _add(tally, "escalated_by_agent", by)
            elif kind == "reply":
                if data.get("first_response") and not data.get("breached"):
                    queue = str(data.get("queue") or UNKNOWN)
                    _add(tally, "sla_due", queue)
                    if data.get("met"):
                        _add(tally, "sla_met", queue)
            elif kind == "sla_breached":
                _add(tally, "sla_due", str(data.get("queue") or UNKNOWN))
            elif kind == "rated":
                rating = data.get("rating")
                if isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5:
                    _add(tally, "ratings", str(rating))
            elif kind in INCIDENT_TYPES:
                _add(tally, "incidents", kind)

    def add_signals(self, signals: Iterable[Signal]) -> None:
        for s in signals:
            if s.type == "kb_answered":
                key = (s.conversation_id, self._day(s.at))
                first = self._answers.get(key)
                if first is None or s.at < first:
                    self._answers[key] = s.at
            elif s.type == "kb_feedback":
                vote = (s.conversation_id, str(s.data.get("article_id") or ""), self._day(s.at))
                last = self._votes.get(vote)
                if last is None or s.at >= last[0]:
                    self._votes[vote] = (s.at, bool(s.data.get("helped")))
            tally = self._bucket(s.at)
            if tally is not None:
                _add(tally, "signals", s.type)

    def tallies(self) -> list[Tally]:
        """The tally of each bucket (the deflection and the votes are decided here, from everything fed)."""
        for (conversation, _day), answered in self._answers.items():
            tally = self._bucket(answered)
            if tally is None:
                continue
            tickets = self._tickets.get(conversation, ())
            if any(answered <= t <= answered + DEFLECTION_WINDOW for t in tickets):
                outcome = "ticketed"
            elif self.now < answered + DEFLECTION_WINDOW:
                outcome = "pending"
            else:
                outcome = "deflected"
            _add(tally, "deflection", "answered")
            _add(tally, "deflection", outcome)
        for at, helped in self._votes.values():
            tally = self._bucket(at)
            if tally is not None:
                _add(tally, "votes", "total")
                if helped:
                    _add(tally, "votes", "helped")
        self._answers.clear()
        self._votes.clear()
        return self._tallies


# -- figures ------------------------------------------------------------------------------------------------

def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {"numerator": numerator, "denominator": denominator,
            "rate": round(numerator / denominator, 4) if denominator else None}


def _deflection(t: Tally) -> dict[str, Any]:
    d = t["deflection"]
    deflected, ticketed = d.get("deflected", 0), d.get("ticketed", 0)
    return {**ratio(deflected, deflected + ticketed), "answered": d.get("answered", 0), "ticketed": ticketed,
            "pending": d.get("pending", 0)}


def _csat(t: Tally) -> dict[str, Any]:
    r = t["ratings"]
    count = sum(r.values())
    positive = r.get("4", 0) + r.get("5", 0)
    total = sum(int(k) * n for k, n in r.items())
    return {**ratio(positive, count), "average": round(total / count, 2) if count else None}


def _dimension(tallies: Sequence[Tally], total: Tally, num: str, den: str,
               skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Rows (key, numerator, denominator, rate) over the period, most volume first, and the over-time
    series of the keys with the most numerator."""
    n, d = total[num], total[den]
    keys = sorted((set(n) | set(d)) - set(skip), key=lambda k: (-d.get(k, 0), -n.get(k, 0), k))
    rows = [{"key": k, **ratio(n.get(k, 0), d.get(k, 0))} for k in keys]
    top = sorted(keys, key=lambda k: (-n.get(k, 0), -d.get(k, 0), k))[:TOP_SERIES]
    series = {k: [ratio(t[num].get(k, 0), t[den].get(k, 0)) for t in tallies] for k in top}
    return {"rows": rows, "series": series}


def figures(period: Period, tallies: Sequence[Tally], history_from: Mapping[str, float | None]) -> dict[str, Any]:
    """The period's figures (totals and per bucket), each ratio with its numerator and denominator."""
    total = merge(tallies)
    escalation_total = {**ratio(total["escalated"].get("all", 0), total["created"].get("all", 0)),
                        "by_watcher": total["escalated"].get("by_watcher", 0),
                        "by_agents": total["escalated"].get("by_agents", 0)}
    return {
        "period": {"since": period.since, "unit": period.unit, "start": period.start, "end": period.end,
                   "timezone": period.timezone,
                   "buckets": [{"key": b.key, "start": b.start, "end": b.end} for b in period.buckets]},
        "history_from": dict(history_from),
        "definitions": DEFINITIONS,
        "deflection": {"total": _deflection(total), "series": [_deflection(t) for t in tallies]},
        "helped_votes": {"total": ratio(total["votes"].get("helped", 0), total["votes"].get("total", 0)),
                         "series": [ratio(t["votes"].get("helped", 0), t["votes"].get("total", 0)) for t in tallies]},
        "signals": {"total": {k: total["signals"].get(k, 0) for k in SIGNAL_TYPES},
                    "series": [{k: t["signals"].get(k, 0) for k in SIGNAL_TYPES} for t in tallies]},
        "escalation": {
            "total": escalation_total,
            "series": [ratio(t["escalated"].get("all", 0), t["created"].get("all", 0)) for t in tallies],
            "by_category": _dimension(tallies, total, "escalated_by_category", "created_by_category"),
            "by_tag": _dimension(tallies, total, "escalated_by_tag", "created_by_tag"),
            "by_article": _dimension(tallies, total, "escalated_by_article", "created_by_article"),
            "by_agent": _dimension(tallies, total, "escalated_by_agent", "claimed_by_agent", skip=(WATCHER,)),
        },
        "sla_first_response": {
            "total": ratio(sum(total["sla_met"].values()), sum(total["sla_due"].values())),
            "series": [ratio(sum(t["sla_met"].values()), sum(t["sla_due"].values())) for t in tallies],
            "by_queue": _dimension(tallies, total, "sla_met", "sla_due"),
        },
        "csat": {"total": _csat(total), "distribution": {str(k): total["ratings"].get(str(k), 0) for k in range(1, 6)},
                 "series": [_csat(t) for t in tallies]},
        "incidents": {
            "total": {k.removeprefix("incident_"): total["incidents"].get(k, 0) for k in INCIDENT_TYPES},
            "series": [{k.removeprefix("incident_"): t["incidents"].get(k, 0) for k in INCIDENT_TYPES} for t in tallies],
        },
    }


# -- the text summary ---------------------------------------------------------------------------------------

def _pct(r: Mapping[str, Any]) -> str:
    return "n/a" if r["rate"] is None else f"{100 * r['rate']:.1f} %"


def _of(r: Mapping[str, Any], unit: str) -> str:
    return f"{r['numerator']} of {r['denominator']} {unit} ({_pct(r)})"


def summary_lines(f: Mapping[str, Any], top: int = 5) -> list[str]:
    """The figures as plain text lines (``frontdoor report`` prints them)."""
    p = f["period"]
    tz = zone(p["timezone"])
    span = (f"{datetime.fromtimestamp(p['start'], tz):%Y-%m-%d %H:%M} - {datetime.fromtimestamp(p['end'], tz):%Y-%m-%d %H:%M}"
            f" {p['timezone']}")
    d = f["deflection"]["total"]
    e = f["escalation"]["total"]
    c = f["csat"]["total"]
    i = f["incidents"]["total"]
    lines = [
        f"frontdoor analytics, last {p['since']} ({span})",
        f"deflection: {_of(d, 'answered conversations')} got no ticket within 24 h; {d['pending']} pending",
        f"helped votes: {_of(f['helped_votes']['total'], 'votes')}",
        "bot signals: " + ", ".join(f"{k} {n}" for k, n in f["signals"]["total"].items()),
        f"escalation rate: {e['numerator']} escalations of {e['denominator']} new tickets ({_pct(e)}); "
        f"{e['by_watcher']} by the SLA watcher",
    ]
    for name, unit in (("by_category", "new tickets"), ("by_tag", "new tickets"), ("by_article", "new tickets"),
                       ("by_agent", "claims")):
        rows = f["escalation"][name]["rows"][:top]
        if rows:
            lines.append(f"  {name.replace('_', ' ')}: " + "; ".join(
                f"{r['key']} {r['numerator']} of {r['denominator']} {unit} ({_pct(r)})" for r in rows))
    lines.append(f"SLA first response met: {_of(f['sla_first_response']['total'], 'decided')}")
    for r in f["sla_first_response"]["by_queue"]["rows"]:
        lines.append(f"  {r['key']}: {_of(r, 'decided')}")
    average = "n/a" if c["average"] is None else f"{c['average']:.2f}"
    lines.append(f"CSAT: {_of(c, 'ratings')} are 4-5; average {average}")
    lines.append(f"incidents: {i['opened']} opened, {i['resolved']} resolved, {i['linked']} conversations linked "
                 f"({i['unlinked']} unlinked again)")
    return lines
