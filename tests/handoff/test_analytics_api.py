"""Analytics through the real API and Redis: a realistic mix over four days (tickets created, claimed,
replied on time and late, escalated by agents and by the SLA watcher, resolved, rated; the bot's signals of
answered and unanswered conversations and votes; conversations that got a KB answer and later a ticket,
within 24 h and after 25 h; incidents), then the expected counts are computed independently from the raw
stream entries (XRANGE, simple code) and compared with GET /api/v1/lead/analytics for 24h, 7d and 30d and
with `frontdoor report`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from handoff_helpers import AGENT, AGENT2, LEAD, FakeClock, agent_headers, bot_headers, payload

from handoff import keys as appkeys
from handoff.settings import Settings
from handoff.store import Store
from handoff.transitions import Event

H = 3600.0
DAY = 86400.0
MON = 1_764_000_000.0  # Monday 2025-11-24 16:00 UTC (business hours mon-fri 08:00-18:00 UTC)
SIGNED_IN = {"id": "cust-1", "email": "ada@example.com", "name": "Ada", "verified": True}
ALL_TIME = ("by_category", "by_article", "by_tag", "agents_escalating_most", "recurring_issues", "ratings")


class Desk:
    """The bot, the agents alice and bob and the lead lena, through the HTTP API."""

    def __init__(self, client: TestClient, clock: FakeClock, store: Store) -> None:
        self.client, self.clock, self.store = client, clock, store

    async def call(self, method: str, path: str, token: str | None, body: Any = None, status: int = 200) -> Any:
        headers = bot_headers() if token is None else agent_headers(token)
        resp = await self.client.request(method, path, json=body, headers=headers)
        data = await resp.json()
        assert resp.status == status, (path, data)
        return data

    async def signals(self, *items: tuple[Any, ...]) -> None:
        sent = []
        for kind, conv, *rest in items:
            item: dict[str, Any] = {"type": kind, "conversation_id": conv, "language": "en",
                                    "text": f"question of {conv}"}
            if kind == "kb_feedback":
                item.update(article_id=rest[0], helped=rest[1])
            elif kind == "kb_answered":
                item.update(article_id="kb-a", article_lang="en", category="technical")
            sent.append(item)
        assert await self.call("POST", "/api/v1/bot/signals", None, {"signals": sent}, 202) == {"accepted": len(sent)}

    async def ticket(self, conv: str, status: int = 201, **fields: Any) -> str:
        fields.setdefault("customer", {"email": f"{conv}@example.com", "name": conv})
        data = await self.call("POST", "/api/v1/tickets", None, payload(conv, **fields), status)
        return str(data["reference"])

    async def claim(self, token: str, queue: str) -> str:
        data = await self.call("POST", "/api/v1/agent/claim", token, {"queues": [queue]})
        return str(data["ticket"]["reference"])

    async def act(self, token: str, ref: str, action: str, body: dict[str, Any]) -> Any:
        return await self.call("POST", f"/api/v1/agent/tickets/{ref}/{action}", token, body)

    async def rate(self, ref: str, rating: int) -> None:
        await self.call("POST", f"/api/v1/tickets/{ref}/rating", None, {"rating": rating})

    async def incident(self, kind: str, conv: str = "") -> None:
        await self.store.record_event("INC-1", Event(kind, "ops", "", {"conversation_id": conv} if conv else {}),
                                      self.clock())

    async def sweep(self) -> dict[str, int]:
        return await self.client.app[appkeys.SERVICE].sweep_sla()

    async def analytics(self, since: str) -> dict[str, Any]:
        return dict(await self.call("GET", f"/api/v1/lead/analytics?since={since}", LEAD))

    def at(self, when: float) -> None:
        assert when >= self.clock.now
        self.clock.now = when


async def four_days(desk: Desk) -> dict[str, str]:
    """The scenario; returns the tickets by name. Monday 16:00 UTC to Thursday 12:30 UTC."""
    t: dict[str, str] = {}
    # -- Monday 16:00: the bot answers, cannot answer, declines; customers vote; three tickets ------------------
    await desk.signals(("kb_answered", "c-deflect-1"), ("kb_answered", "c-deflect-2"), ("kb_answered", "c-ticket-1"),
                       ("kb_answered", "c-late-ticket"), ("kb_answered", "wa-attach"), ("kb_ambiguous", "c-amb"),
                       ("kb_no_answer", "c-none-1"), ("kb_no_answer", "c-none-2"), ("declined", "c-declined"),
                       ("kb_feedback", "c-deflect-1", "kb-a", True),
                       ("kb_feedback", "c-ticket-1", "tech-playback-errors", False),
                       ("kb_feedback", "c-ticket-1", "tech-playback-errors", False),  # a retried batch
                       ("kb_feedback", "c-deflect-2", "kb-b", True))
    t["T1"] = await desk.ticket("web-signed", customer=SIGNED_IN)  # technical, tag playback, article did not help
    t["T2"] = await desk.ticket("c-billing", category="billing", tags=["refund"], articles_shown=[],
                                description="I was charged twice this month")
    t["T3"] = await desk.ticket("c-general", category="general", tags=[], articles_shown=[],
                                description="Where do I change my settings?")
    # -- 16:30: a ticket 30 min after its KB answer; a conversation joins T1; claims and replies in time ---------
    desk.at(MON + 0.5 * H)
    t["T4"] = await desk.ticket("c-ticket-1")
    assert await desk.ticket("wa-attach", status=200, channel="whatsapp", customer=SIGNED_IN) == t["T1"]
    assert await desk.claim(AGENT, "tech-support") == t["T1"]  # due 17:00
    await desk.act(AGENT, t["T1"], "reply", {"text": "Please reinstall the app."})
    assert await desk.claim(AGENT, "tech-support") == t["T4"]  # due 17:30: no reply in time
    assert await desk.claim(AGENT2, "billing") == t["T2"]
    await desk.act(AGENT2, t["T2"], "reply", {"text": "We refund the second charge."})
    # -- 17:45: the SLA watcher: T4 and T3 breached, T3 past the tier-1 limit -> tier 2; late reply, escalation --
    desk.at(MON + 1.75 * H)
    assert await desk.sweep() == {"warned": 0, "breached": 2, "escalated": 1, "tier_alerts": 0, "risk_raised": 0}
    await desk.act(AGENT, t["T4"], "reply", {"text": "Sorry for the wait."})
    await desk.act(AGENT, t["T1"], "escalate", {"reason": "a bug in the app", "to_queue": "engineering"})
    await desk.act(AGENT2, t["T2"], "resolve", {"resolution": "refunded"})
    await desk.rate(t["T2"], 5)
    await desk.act(LEAD, t["T4"], "resolve", {"resolution": "reinstalled"})
    await desk.rate(t["T4"], 2)
    # -- Tuesday 17:00: a ticket 25 h after its KB answer; more answers; an incident -----------------------------
    desk.at(MON + DAY + H)
    t["T5"] = await desk.ticket("c-late-ticket", category="general", tags=[], articles_shown=[],
                                description="Where do I change my settings?")
    await desk.signals(("kb_answered", "c-tue-1"), ("kb_answered", "c-tue-2"), ("kb_no_answer", "c-none-3"),
                       ("kb_feedback", "c-tue-2", "kb-c", True))
    await desk.incident("incident_opened")
    await desk.incident("incident_linked", "c-none-3")
    await desk.incident("incident_linked", "c-none-2")
    # -- 17:10 ---------------------------------------------------------------------------------------------------
    desk.at(MON + DAY + H + 600)
    t["T6"] = await desk.ticket("c-tue-1", category="billing", tags=["refund"], articles_shown=[],
                                description="I want my money back")
    assert await desk.claim(AGENT2, "billing") == t["T6"]
    desk.at(MON + DAY + H + 1200)
    await desk.act(AGENT2, t["T6"], "reply", {"text": "Refunded."})
    await desk.act(AGENT2, t["T6"], "resolve", {"resolution": "refunded"})
    await desk.rate(t["T6"], 4)
    assert await desk.claim(AGENT, "tier1-general") == t["T5"]
    await desk.act(AGENT, t["T5"], "escalate", {"reason": "needs a specialist"})  # one tier up: tech-support
    # -- Thursday 12:00: the watcher finds T5 breached; answers, one pending; the incident is resolved ----------
    desk.at(MON + 3 * DAY - 4 * H)
    assert (await desk.sweep())["breached"] == 1
    await desk.signals(("kb_answered", "c-thu-1"), ("kb_answered", "c-thu-2"),
                       ("kb_feedback", "c-thu-1", "kb-a", False))
    await desk.incident("incident_resolved")
    # -- 12:05 ---------------------------------------------------------------------------------------------------
    desk.at(MON + 3 * DAY - 4 * H + 300)
    t["T7"] = await desk.ticket("c-thu-2", tags=["tv"], articles_shown=[
        {"id": "kb-tv", "lang": "en", "title": "TV apps", "feedback": "did_not_help"},
        {"id": "kb-a", "lang": "en", "title": "Playback", "feedback": "helped"}])
    assert [await desk.claim(AGENT, "tech-support") for _ in range(3)] == [t["T3"], t["T5"], t["T7"]]
    desk.at(MON + 3 * DAY - 4 * H + 600)
    await desk.act(AGENT, t["T7"], "reply", {"text": "Which TV?"})
    await desk.act(AGENT, t["T3"], "reply", {"text": "Under Account > Settings."})  # very late
    await desk.act(AGENT, t["T7"], "escalate", {"reason": "TV firmware bug", "to_queue": "engineering"})
    await desk.act(AGENT, t["T3"], "resolve", {"resolution": "explained"})
    await desk.rate(t["T3"], 3)
    desk.at(MON + 3 * DAY - 3.5 * H)  # Thursday 12:30: the report
    return t


# -- the expected figures, from the raw stream entries -----------------------------------------------------------

def raw(entries: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    return [{"type": f["type"], "key": f.get("ref") or f.get("conv"), "at": float(f["at"]),
             "data": json.loads(f["data"])} for _, f in entries]


def expected(events: list[dict[str, Any]], signals: list[dict[str, Any]], start: float, end: float,
             now: float) -> dict[str, Any]:
    """Counts by the definitions, written plainly (every conversation of the scenario is answered on one day,
    so a conversation is its own unit here)."""
    def inside(at: float) -> bool:
        return start <= at <= end

    out: dict[str, Any] = {}
    tickets: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e["type"] in ("created", "attached"):
            tickets[e["data"]["conversation_id"]].append(e["at"])
    first: dict[str, float] = {}
    for s in signals:
        if s["type"] == "kb_answered":
            first[s["key"]] = min(first.get(s["key"], s["at"]), s["at"])
    deflection = Counter()
    for conv, answered in first.items():
        if not inside(answered):
            continue
        if any(answered <= t <= answered + DAY for t in tickets[conv]):
            deflection["ticketed"] += 1
        elif now < answered + DAY:
            deflection["pending"] += 1
        else:
            deflection["deflected"] += 1
    out["deflection"] = dict(deflection)
    votes: dict[tuple[str, str], tuple[float, bool]] = {}
    for s in signals:
        if s["type"] == "kb_feedback" and inside(s["at"]):
            key = (s["key"], s["data"]["article_id"])
            if key not in votes or s["at"] >= votes[key][0]:
                votes[key] = (s["at"], s["data"]["helped"])
    out["votes"] = (sum(helped for _, helped in votes.values()), len(votes))
    out["signals"] = Counter(s["type"] for s in signals if inside(s["at"]))

    created = {e["key"]: e for e in events if e["type"] == "created"}  # the ticket's facts at creation
    esc = [e for e in events if e["type"] == "escalated" and inside(e["at"])]
    new = [e for e in events if e["type"] == "created" and inside(e["at"])]
    out["escalation"] = (len(esc), len(new), sum(e["data"]["by"] == "sla-watcher" for e in esc))
    out["by_category"] = rows(Counter(created[e["key"]]["data"]["category"] for e in esc),
                              Counter(e["data"]["category"] for e in new))
    out["by_tag"] = rows(Counter(t.lower() for e in esc for t in created[e["key"]]["data"]["tags"]),
                         Counter(t.lower() for e in new for t in e["data"]["tags"]))
    out["by_article"] = rows(Counter(a for e in esc for a in created[e["key"]]["data"]["articles"]),
                             Counter(a for e in new for a in e["data"]["articles"]))
    claims = Counter(e["data"]["agent"] for e in events if e["type"] == "claimed" and inside(e["at"]))
    out["by_agent"] = rows(Counter(e["data"]["by"] for e in esc if e["data"]["by"] != "sla-watcher"), claims)

    # SLA: each ticket once, when its first response was decided (first reply or breach, whichever came first)
    queue: dict[str, str] = {}
    due: Counter[str] = Counter()
    met: Counter[str] = Counter()
    decided: set[str] = set()
    for e in sorted(events, key=lambda e: e["at"]):
        ref = e["key"]
        if e["type"] == "created":
            queue[ref] = e["data"]["queue"]
        elif e["type"] == "escalated":
            queue[ref] = e["data"]["to_queue"]
        elif e["type"] in ("reply", "sla_breached") and ref not in decided:
            decided.add(ref)
            if inside(e["at"]):
                due[queue[ref]] += 1
                on_time = e["type"] == "reply" and e["at"] <= created[ref]["data"]["first_response_due"]
                met[queue[ref]] += on_time
    out["sla"] = rows(met, due)
    ratings = [e["data"]["rating"] for e in events if e["type"] == "rated" and inside(e["at"])]
    out["csat"] = (sum(r >= 4 for r in ratings), len(ratings),
                   round(sum(ratings) / len(ratings), 2) if ratings else None)
    out["incidents"] = Counter(e["type"].removeprefix("incident_") for e in events
                               if e["type"].startswith("incident_") and inside(e["at"]))
    return out


def rows(num: Counter[str], den: Counter[str]) -> dict[str, tuple[int, int]]:
    return {k: (num.get(k, 0), den.get(k, 0)) for k in set(num) | set(den)}


def got_rows(dimension: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {r["key"]: (r["numerator"], r["denominator"]) for r in dimension["rows"]}


def compare(api: dict[str, Any], want: dict[str, Any]) -> None:
    d = api["deflection"]["total"]
    assert (d["numerator"], d["ticketed"], d["pending"]) == (
        want["deflection"].get("deflected", 0), want["deflection"].get("ticketed", 0), want["deflection"].get("pending", 0))
    assert d["denominator"] == d["numerator"] + d["ticketed"] and d["answered"] == d["denominator"] + d["pending"]
    v = api["helped_votes"]["total"]
    assert (v["numerator"], v["denominator"]) == want["votes"]
    assert api["signals"]["total"] == {k: want["signals"].get(k, 0) for k in api["signals"]["total"]}
    e = api["escalation"]["total"]
    assert (e["numerator"], e["denominator"], e["by_watcher"]) == want["escalation"]
    for name in ("by_category", "by_tag", "by_article", "by_agent"):
        assert got_rows(api["escalation"][name]) == want[name], name
    assert got_rows(api["sla_first_response"]["by_queue"]) == want["sla"]
    s = api["sla_first_response"]["total"]
    assert (s["numerator"], s["denominator"]) == (sum(m for m, _ in want["sla"].values()),
                                                  sum(d for _, d in want["sla"].values()))
    c = api["csat"]["total"]
    assert (c["numerator"], c["denominator"], c["average"]) == want["csat"]
    assert api["incidents"]["total"] == {k: want["incidents"].get(k, 0)
                                         for k in ("opened", "resolved", "linked", "unlinked")}


async def test_the_figures_equal_counts_from_the_raw_streams(client: TestClient, settings: Settings,
                                                             clock: FakeClock, redis_url: str, tmp_path: Path) -> None:
    async with aioredis.from_url(redis_url, decode_responses=True) as r:
        desk = Desk(client, clock, Store(r, settings.key_prefix))
        t = await four_days(desk)
        events = raw(await r.xrange(settings.key_prefix + "events"))
        signals = raw(await r.xrange(settings.key_prefix + "signals"))
        now = clock.now

        week = await desk.analytics("7d")
        assert [b["key"] for b in week["period"]["buckets"]] == [f"2025-11-{d}" for d in range(21, 28)]
        compare(week, expected(events, signals, MON - 16 * H - 3 * DAY, now, now))
        # the scenario's headline figures, as designed
        assert week["deflection"]["total"] == {"numerator": 4, "denominator": 8, "rate": 0.5, "answered": 9,
                                               "ticketed": 4, "pending": 1}
        assert week["helped_votes"]["total"] == {"numerator": 3, "denominator": 5, "rate": 0.6}
        assert week["escalation"]["total"] == {"numerator": 4, "denominator": 7, "rate": 0.5714, "by_watcher": 1,
                                               "by_agents": 3}
        assert got_rows(week["escalation"]["by_agent"]) == {"alice": (3, 6), "bob": (0, 2)}
        assert got_rows(week["sla_first_response"]["by_queue"]) == {
            "tech-support": (2, 4), "billing": (2, 2), "tier1-general": (0, 1)}
        assert week["csat"]["total"] == {"numerator": 2, "denominator": 4, "rate": 0.5, "average": 3.5}
        assert week["incidents"]["total"] == {"opened": 1, "resolved": 1, "linked": 2, "unlinked": 0}
        # per day: each bucket against the raw entries of that day
        for bucket, deflection, escalation, csat in zip(week["period"]["buckets"], week["deflection"]["series"],
                                                       week["escalation"]["series"], week["csat"]["series"]):
            want = expected(events, signals, bucket["start"], bucket["end"] - (0 if bucket["end"] == now else 1e-6), now)
            assert (deflection["numerator"], deflection["ticketed"], deflection["pending"]) == tuple(
                want["deflection"].get(k, 0) for k in ("deflected", "ticketed", "pending")), bucket["key"]
            assert (escalation["numerator"], escalation["denominator"]) == want["escalation"][:2], bucket["key"]
            assert (csat["numerator"], csat["denominator"], csat["average"]) == want["csat"], bucket["key"]
        assert [s["numerator"] for s in week["escalation"]["series"]] == [0, 0, 0, 2, 1, 0, 1]

        day = await desk.analytics("24h")
        assert day["period"]["unit"] == "hour" and day["period"]["start"] == now - 24 * H
        compare(day, expected(events, signals, now - 24 * H, now, now))
        assert day["deflection"]["total"] == {"numerator": 0, "denominator": 1, "rate": 0.0, "answered": 2,
                                              "ticketed": 1, "pending": 1}

        month = await desk.analytics("30d")
        compare(month, expected(events, signals, MON - 16 * H - 26 * DAY, now, now))
        for name in ("deflection", "helped_votes", "escalation", "sla_first_response", "csat", "incidents"):
            assert month[name]["total"] == week[name]["total"], name
        assert week["by_category"], "the all-time counters are still there"
        assert set(ALL_TIME) <= set(week)

        # complete past days come from the cache: a cached day changed behind the service's back shows
        key = f"{settings.key_prefix}analytics:v1:UTC:2025-11-24"
        cached = json.loads(await r.get(key))
        assert cached["created"] == {"all": 4}
        assert not await r.exists(f"{settings.key_prefix}analytics:v1:UTC:2025-11-26")  # not final yet
        await r.set(key, json.dumps({**cached, "created": {"all": 40}}))
        assert (await desk.analytics("7d"))["escalation"]["total"]["denominator"] == 43
        await r.set(key, json.dumps(cached))
        assert await desk.analytics("7d") == week

        # frontdoor report: the same figures in the HTML file, and a text summary of them
        out_file, text = tmp_path / "report.html", io.StringIO()
        from stack.report_cli import cmd_report

        args = argparse.Namespace(since="7d", out=out_file, lang="en", redis_url=redis_url,
                                  prefix=settings.key_prefix, timezone="UTC")
        assert await asyncio.to_thread(cmd_report, args, text, now) == 0
        html = out_file.read_text(encoding="utf-8")
        embedded = re.search(r'<script type="application/json" id="analytics-data">(.*?)</script>', html, re.S)
        assert embedded is not None
        assert json.loads(embedded.group(1)) == {k: v for k, v in week.items() if k not in ALL_TIME}
        summary = text.getvalue()
        assert "deflection: 4 of 8 answered conversations (50.0 %) got no ticket within 24 h; 1 pending" in summary
        assert "escalation rate: 4 escalations of 7 new tickets (57.1 %); 1 by the SLA watcher" in summary
        assert "tech-support: 2 of 4 decided (50.0 %)" in summary
        assert "CSAT: 2 of 4 ratings (50.0 %) are 4-5; average 3.50" in summary
        assert "incidents: 1 opened, 1 resolved, 2 conversations linked (0 unlinked again)" in summary
        assert t["T1"] == "T-000001"


async def test_a_bad_period_is_a_400_with_the_reason(client: TestClient) -> None:
    for since in ("7", "100d", "13w", "0h", "24h;drop"):
        resp = await client.get(f"/api/v1/lead/analytics?since={since}", headers=agent_headers(LEAD))
        assert resp.status == 400
        assert "'since' must be a number of hours, days or weeks like 24h, 7d or 30d" in (await resp.json())["detail"]
    resp = await client.get("/api/v1/agent/analytics?since=30d", headers=agent_headers(LEAD))
    assert resp.status == 200 and len((await resp.json())["period"]["buckets"]) == 30
    for path in ("/api/v1/lead/analytics", "/api/v1/agent/analytics"):
        assert (await client.get(path, headers=agent_headers(AGENT))).status == 403  # leads only
        assert (await client.get(path)).status == 401


async def test_an_empty_history_gives_zeros_not_errors(client: TestClient) -> None:
    data = await (await client.get("/api/v1/lead/analytics", headers=agent_headers(LEAD))).json()
    assert data["period"]["since"] == "7d"
    assert data["history_from"] == {"events": None, "signals": None}
    assert data["deflection"]["total"]["rate"] is None and data["csat"]["total"]["average"] is None


async def test_the_background_upkeep_trims_and_caches_complete_days(settings: Settings, redis_url: str,
                                                                    clock: FakeClock) -> None:
    """handoff.watcher.run_retention: hourly, old signals go and the complete past days get tallied."""
    from handoff.signals import Signal
    from handoff.watcher import run_retention

    async with aioredis.from_url(redis_url, decode_responses=True) as r:
        store = Store(r, settings.key_prefix)
        old = [Signal("kb_answered", f"old-{i}", clock.now - 95 * DAY, {"language": "en"}) for i in range(300)]
        await store.append_signals(old, clock.now - 95 * DAY)
        await store.append_signals([Signal("kb_answered", "c1", clock.now - 3 * DAY, {"language": "en"})],
                                   clock.now - 3 * DAY)
        await store.record_event("T-1", Event("created", "bot", "", {"conversation_id": "c2"}), clock.now - 3 * DAY)
        task = asyncio.create_task(run_retention(store, clock, 0.05, "UTC", first_delay=0))
        try:
            for _ in range(200):
                if await r.exists(f"{settings.key_prefix}analytics:v1:UTC:2025-11-21"):
                    break
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        day = json.loads(await r.get(f"{settings.key_prefix}analytics:v1:UTC:2025-11-21"))
        assert day["deflection"] == {"answered": 1, "deflected": 1} and day["created"] == {"all": 1}
        assert not await r.exists(f"{settings.key_prefix}analytics:v1:UTC:2025-11-23")  # not complete yet
        assert await r.xlen(store.signals_key) < 150
        assert not await r.exists(f"{settings.key_prefix}lock:analytics")


async def test_signals_sent_to_the_endpoint_feed_the_incident_detector_and_its_events_the_figures(
        client: TestClient, clock: FakeClock) -> None:
    """The stored shape is the one the incident detector (and KB gaps) read: five unanswered conversations
    about one error code, posted through POST /api/v1/bot/signals, open an incident; analytics count its
    events."""
    store = client.server.app[appkeys.STORE]
    await store.ensure_group("incidents", store.signals_key)  # the detector reads from its start
    for i in range(5):
        body = {"signals": [{"type": "kb_no_answer", "conversation_id": f"stick-{i}", "language": "de",
                             "text": "Der Stick zeigt E-7007", "category": "technical", "error_code": "E-7007"}]}
        resp = await client.post("/api/v1/bot/signals", json=body, headers=bot_headers())
        assert resp.status == 202
        clock.advance(60)
    while await client.server.app[appkeys.INCIDENTS].consume(store.signals_key, "test", block_ms=1):
        pass
    found = await (await client.get("/api/v1/agent/incidents", headers=agent_headers())).json()
    assert [(i["error_code"], i["conversations"]) for i in found["incidents"]] == [("E-7007", 5)]
    figures = await (await client.get("/api/v1/lead/analytics?since=24h", headers=agent_headers(LEAD))).json()
    assert figures["incidents"]["total"] == {"opened": 1, "resolved": 0, "linked": 5, "unlinked": 0}
    assert figures["signals"]["total"]["kb_no_answer"] == 5
