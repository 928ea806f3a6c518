"""Incidents: many customers, one problem. Pure rules (no I/O): what a report is keyed by, when a key's
reports are a burst, what an incident looks like and what leads can do to it. ``handoff.incident_store``
keeps them in Redis, ``handoff.incident_service`` runs the detector and the notifications.

**Reports.** A ticket, and a bot conversation that ended without an answer (nothing fitted, or the article
did not help), are reports. A report counts under each of its keys (``bot.incident_keys``, which the bot
matches customers with):

- ``error:{CODE}`` — the error code the customer named (E-1001): an error code names one problem;
- ``product:{category}:{product}`` — the category and the product together (billing problems with the
  Smart TV app are not technical problems with it);
- ``article:{id}`` — an article that was shown and did not help: many customers for whom the usual fix does
  not work at the same time is the typical sign of an outage.

A conversation counts once per key (a ticket created after the bot gave up is the same report).

**Burst rule.** For each key the detector keeps the time of every report of the last ``HISTORY`` (7 days).
Let ``n`` be the reports in the last ``WINDOW`` (30 minutes) and ``h`` those of the history before the
window. The key's usual rate in a window is ``lam = max(h * WINDOW / (HISTORY - WINDOW), LAMBDA_FLOOR)``
(its own history: a key that gets 20 reports on an ordinary day needs more than one seen twice a week).
A burst is ``n >= MIN_REPORTS`` and ``P(X >= n) < SIGNIFICANCE`` for ``X ~ Poisson(lam)``: with no history
5 reports in 30 minutes open an incident; a key with 48 reports a day (1 per 30 minutes) needs 9, one with
480 a day (10 per window) needs 27 (``reports_needed``; tests/handoff/test_incidents.py). At one per window a
key opens a false incident about once in 50 years of ordinary days. While an incident is open for a key, its reports join it instead.

**Incident.** One record: a reference (I-000001), a title, the key(s) and what they name (category,
product, error code, article), the first reports, the count of reports and of linked conversations, and
the tickets that are its children (parent link on each ticket). States: ``open`` (detected), ``confirmed``
(a lead confirmed it), ``resolved`` (every linked conversation is told, the child tickets are resolved),
``merged`` (into another incident, which takes over its keys, reports, conversations and tickets).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.contract import LANGUAGES
from bot.incident_keys import problem_keys
from handoff.errors import Conflict, InvalidRequest

WINDOW = 30 * 60.0  # seconds: the sliding window of a burst
HISTORY = 7 * 24 * 3600.0  # seconds of history behind a key's usual rate
MIN_REPORTS = 5  # never fewer reports in the window than this
SIGNIFICANCE = 1e-5  # P(at least n reports | the usual rate) below which the window is a burst
LAMBDA_FLOOR = 0.05  # usual reports per window assumed for a key with (almost) no history
FIRST_REPORTS = 10  # kept on the incident for leads to read
TITLE_LIMIT = 120

OPEN_STATES = ("open", "confirmed")
STATES = ("open", "confirmed", "resolved", "merged")


report_keys = problem_keys  # the keys a report counts under (bot/incident_keys.py: shared with the bot)


def poisson_tail(n: int, lam: float) -> float:
    """P(X >= n) for X ~ Poisson(lam)."""
    if n <= 0:
        return 1.0
    term = math.exp(-lam)
    below = term
    for k in range(1, n):
        term *= lam / k
        below += term
    return max(0.0, 1.0 - below)


def usual_rate(history: int, window: float = WINDOW, span: float = HISTORY) -> float:
    """Reports the key usually gets in one window, from ``history`` reports in the ``span`` before it."""
    return max(history * window / max(span - window, window), LAMBDA_FLOOR)


def is_burst(in_window: int, history: int) -> bool:
    return in_window >= MIN_REPORTS and poisson_tail(in_window, usual_rate(history)) < SIGNIFICANCE


def reports_needed(history: int) -> int:
    """The smallest number of reports in a window that is a burst for a key with this history (docs)."""
    n = MIN_REPORTS
    while not is_burst(n, history):
        n += 1
    return n


@dataclass(frozen=True)
class Report:
    """One customer's report of a problem: a ticket, or a bot conversation that found no answer."""

    conversation_id: str
    at: float
    language: str
    category: str = ""
    product: str = ""
    error_code: str = ""
    articles_not_helped: tuple[str, ...] = ()
    reference: str = ""  # the ticket, when the report is one
    text: str = ""  # masked, short: what leads read among the first reports
    source: str = "ticket"  # ticket | bot

    @property
    def keys(self) -> tuple[str, ...]:
        return report_keys(category=self.category, product=self.product, error_code=self.error_code,
                           articles_not_helped=self.articles_not_helped)

    def summary(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "reference": self.reference, "at": self.at,
                "language": self.language, "source": self.source, "text": self.text[:300],
                "category": self.category, "product": self.product, "error_code": self.error_code}


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    status: str
    keys: tuple[str, ...]
    opened_at: float
    category: str = ""
    product: str = ""
    error_code: str = ""
    article: str = ""
    first_reports: tuple[Mapping[str, Any], ...] = ()
    reports: int = 0
    confirmed_at: float | None = None
    confirmed_by: str = ""
    resolved_at: float | None = None
    resolved_by: str = ""
    resolution: Mapping[str, str] = field(default_factory=dict)  # language -> the message customers get
    merged_into: str = ""
    renamed_by: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status, "keys": list(self.keys),
                "opened_at": self.opened_at, "category": self.category, "product": self.product,
                "error_code": self.error_code, "article": self.article,
                "first_reports": [dict(r) for r in self.first_reports], "reports": self.reports,
                "confirmed_at": self.confirmed_at, "confirmed_by": self.confirmed_by,
                "resolved_at": self.resolved_at, "resolved_by": self.resolved_by,
                "resolution": dict(self.resolution), "merged_into": self.merged_into}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incident:
        return cls(id=str(data["id"]), title=str(data.get("title", "")), status=str(data.get("status", "open")),
                   keys=tuple(data.get("keys") or ()), opened_at=float(data.get("opened_at") or 0),
                   category=str(data.get("category") or ""), product=str(data.get("product") or ""),
                   error_code=str(data.get("error_code") or ""), article=str(data.get("article") or ""),
                   first_reports=tuple(data.get("first_reports") or ()), reports=int(data.get("reports") or 0),
                   confirmed_at=data.get("confirmed_at"), confirmed_by=str(data.get("confirmed_by") or ""),
                   resolved_at=data.get("resolved_at"), resolved_by=str(data.get("resolved_by") or ""),
                   resolution=dict(data.get("resolution") or {}), merged_into=str(data.get("merged_into") or ""))


def title_for(key: str, trigger: Report, categories: Mapping[str, str] | None = None) -> str:
    """A first title (leads rename it): what the key names, in English, the agents' common language."""
    kind, _, rest = key.partition(":")
    label = (categories or {}).get(trigger.category, trigger.category)
    if kind == "error":
        return f"Error {rest}" + (f" ({trigger.product})" if trigger.product else "")
    if kind == "product":
        return f"{trigger.product}: {label}".strip(": ")
    return f"Article {rest} does not help ({label})" if label else f"Article {rest} does not help"


def opened(incident_id: str, key: str, trigger: Report, first_reports: Sequence[Mapping[str, Any]], now: float,
           categories: Mapping[str, str] | None = None) -> Incident:
    """The incident a burst under ``key`` opens: ``trigger`` is the report that made it a burst,
    ``first_reports`` the window's reports, oldest first."""
    kind, _, rest = key.partition(":")
    return Incident(
        id=incident_id, title=title_for(key, trigger, categories)[:TITLE_LIMIT], status="open", keys=(key,),
        opened_at=now, category=trigger.category, product=trigger.product if kind in ("product", "error") else "",
        error_code=rest if kind == "error" else "", article=rest if kind == "article" else "",
        first_reports=tuple(dict(r) for r in first_reports[:FIRST_REPORTS]))


def declared(incident_id: str, title: str, lead: str, now: float, *, category: str = "", product: str = "",
             error_code: str = "", article: str = "") -> Incident:
    """An incident a lead declares before the reports come in (monitoring saw it first): confirmed."""
    keys = report_keys(category=category, product=product, error_code=error_code,
                       articles_not_helped=[article] if article else [])
    if not keys:
        raise InvalidRequest("an incident needs an error code, a category with a product, or an article")
    clean = re.sub(r"\s+", " ", title).strip()
    if not clean or len(clean) > TITLE_LIMIT:
        raise InvalidRequest(f"title must be 1 to {TITLE_LIMIT} characters")
    return Incident(id=incident_id, title=clean, status="confirmed", keys=keys, opened_at=now, category=category,
                    product=product, error_code=re.sub(r"\s+", "", error_code).upper(), article=article,
                    confirmed_at=now, confirmed_by=lead)


def confirm(incident: Incident, lead: str, now: float) -> Incident:
    _require_open(incident, "confirm")
    if incident.status == "confirmed":
        return incident
    return replace(incident, status="confirmed", confirmed_at=now, confirmed_by=lead)


def rename(incident: Incident, title: str, lead: str) -> Incident:
    _require_open(incident, "rename")
    clean = re.sub(r"\s+", " ", title).strip()
    if not clean or len(clean) > TITLE_LIMIT:
        raise InvalidRequest(f"title must be 1 to {TITLE_LIMIT} characters")
    return replace(incident, title=clean, renamed_by=lead)


def absorb(target: Incident, source: Incident) -> Incident:
    """``target`` takes over ``source`` (a merge): its keys, first reports and report count."""
    if source.id == target.id:
        raise InvalidRequest("an incident cannot be merged into itself")
    _require_open(source, "be merged")
    _require_open(target, "take another in")
    keys = tuple(dict.fromkeys(target.keys + source.keys))
    first = tuple(sorted(target.first_reports + source.first_reports,
                         key=lambda r: float(r.get("at") or 0)))[:FIRST_REPORTS]
    return replace(target, keys=keys, first_reports=first, reports=target.reports + source.reports)


def merged(source: Incident, into: str) -> Incident:
    if source.id == into:
        raise InvalidRequest("an incident cannot be merged into itself")
    _require_open(source, "be merged")
    return replace(source, status="merged", merged_into=into)


def resolve(incident: Incident, lead: str, message: Mapping[str, str], now: float) -> Incident:
    _require_open(incident, "resolve")
    unknown = [lang for lang in message if lang not in LANGUAGES]
    if unknown:
        raise InvalidRequest(f"message languages must be among {', '.join(LANGUAGES)}; got {', '.join(unknown)}")
    cleaned = {lang: text.strip() for lang, text in message.items() if isinstance(text, str) and text.strip()}
    if any(len(text) > 1000 for text in cleaned.values()):
        raise InvalidRequest("a resolution message has at most 1000 characters")
    return replace(incident, status="resolved", resolved_at=now, resolved_by=lead, resolution=cleaned)


def _require_open(incident: Incident, what: str) -> None:
    if not incident.is_open:
        raise Conflict(f"incident {incident.id} is {incident.status}; only an open incident can {what}")


def matching(open_incidents: Iterable[Incident], keys: Iterable[str]) -> Incident | None:
    """The open incident one of ``keys`` belongs to (the oldest, when several do)."""
    wanted = set(keys)
    found = [i for i in open_incidents if i.is_open and wanted.intersection(i.keys)]
    return min(found, key=lambda i: i.opened_at) if found else None
