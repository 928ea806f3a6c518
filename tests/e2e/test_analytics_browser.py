"""A lead's analytics page in a real browser, on the handoff service alone (a `python -m handoff` process on
the session's Redis: the page needs nothing else): seeded events and signals of the last days, a ticket of
today through the API; the lead signs in, opens Analytics, and the charts (Chart.js objects) and the tables
show the seeded figures in German and English, for 7 and 30 days; `frontdoor report` for the same data
renders the same figures offline. Screenshots go to var/screenshots/ (docs/screenshots/ with
FRONTDOOR_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from stack.embedded_redis import free_port
from stack.settings import ROOT
from tests.e2e.browser import WAIT_MS, Console, OfflineContext, chromium
from tests.http_client import http_json

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = ROOT / ("docs" if os.environ.get("FRONTDOOR_UPDATE_SCREENSHOTS") == "1" else "var") / "screenshots"
BOT, AGENT, LEAD = "ui-bot-token", "ui-agent-token", "ui-lead-token"
DAY = 86400.0
T = TypeVar("T")


class Handoff:
    def __init__(self, url: str, prefix: str, redis_url: str, now: float) -> None:
        self.url, self.prefix, self.redis_url, self.now = url, prefix, redis_url, now


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def handoff(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[Handoff]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "HANDOFF_BOT_TOKEN": BOT, "HANDOFF_PORT": str(port),
           "HANDOFF_KEY_PREFIX": key_prefix, "HANDOFF_BOOTSTRAP_TOKENS": f"alice:agent:{AGENT},lena:lead:{LEAD}",
           "HANDOFF_SLA_INTERVAL": "0", "HANDOFF_MATRIX_POLL": "0", "RASA_URL": "http://127.0.0.1:9",
           "KB_DRAFTS_DIR": str(tmp_path / "drafts"), "HANDOFF_TIMEZONE": "UTC"}
    log = (tmp_path / "handoff.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if http_json(url + "/health", timeout=1.0)[0] == 200 and http_json(
                        url + "/api/v1/agent/me", token=LEAD, timeout=1.0)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the handoff service did not start")
        assert process.poll() is None, (tmp_path / "handoff.log").read_text()
        now = time.time()
        in_thread(lambda: asyncio.run(seed(redis_url, key_prefix, now)))  # Playwright's loop runs in this one
        today(url, now)
        yield Handoff(url, key_prefix, redis_url, now)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def in_thread(call: Callable[[], T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


async def seed(redis_url: str, prefix: str, now: float) -> None:
    """Three days ago: 6 conversations answered by the KB (2 of them ticketed), 3 votes, 4 tickets (2
    escalated, one by the SLA watcher), claims, first responses (2 of 3 in time), 3 ratings; yesterday an
    incident with 3 linked conversations (one unlinked again) and unanswered questions. The events are written as the service
    writes them, with their time in the past (the signals go through the API below)."""
    from redis.asyncio import Redis

    from handoff.store import Store
    from handoff.transitions import Event

    then, yesterday = now - 3 * DAY, now - DAY
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        store = Store(redis, prefix)
        events = [
            ("T-900001", Event("created", "bot", "", {"category": "technical", "tags": ["playback"], "articles": ["kb-a"],
                                                      "conversation_id": "x1", "queue": "tech-support"}), then),
            ("T-900002", Event("created", "bot", "", {"category": "technical", "tags": ["tv"], "articles": [],
                                                      "conversation_id": "x2", "queue": "tech-support"}), then),
            ("T-900003", Event("created", "bot", "", {"category": "billing", "tags": ["refund"], "articles": [],
                                                      "conversation_id": "b2", "queue": "billing"}), then),
            ("T-900004", Event("created", "bot", "", {"category": "billing", "tags": [], "articles": [],
                                                      "conversation_id": "b3", "queue": "billing"}), then),
            ("T-900001", Event("claimed", "alice", "", {"agent": "alice", "queue": "tech-support"}), then),
            ("T-900002", Event("claimed", "alice", "", {"agent": "alice", "queue": "tech-support"}), then),
            ("T-900003", Event("claimed", "bob", "", {"agent": "bob", "queue": "billing"}), then),
            ("T-900004", Event("claimed", "bob", "", {"agent": "bob", "queue": "billing"}), then),
            ("T-900001", Event("reply", "alice", "", {"first_response": True, "met": True, "breached": False,
                                                       "queue": "tech-support"}), then),
            ("T-900002", Event("reply", "alice", "", {"first_response": True, "met": False, "breached": False,
                                                       "queue": "tech-support"}), then),
            ("T-900003", Event("reply", "bob", "", {"first_response": True, "met": True, "breached": False,
                                                     "queue": "billing"}), then),
            ("T-900001", Event("escalated", "alice", "bug", {"category": "technical", "tags": ["playback"],
                                                             "articles": ["kb-a"], "to_queue": "engineering"}), then),
            ("T-900002", Event("escalated", "sla-watcher", "tier limit", {"category": "technical", "tags": ["tv"],
                                                                           "articles": [], "to_queue": "engineering"}), then),
            ("T-900001", Event("rated", "customer", "", {"rating": 5}), then),
            ("T-900003", Event("rated", "customer", "", {"rating": 4}), then),
            ("T-900004", Event("rated", "customer", "", {"rating": 1}), then),
            ("INC-1", Event("incident_opened", "ops", "", {}), yesterday),
            *(("INC-1", Event("incident_linked", "ops", "", {"conversation_id": f"n{i}"}), yesterday) for i in range(3)),
            ("INC-1", Event("incident_unlinked", "bot", "", {"conversation_id": "n2"}), yesterday),
            ("INC-1", Event("incident_resolved", "ops", "", {}), yesterday),
        ]
        for ref, event, at in events:
            await store.record_event(ref, event, at)


def today(url: str, now: float) -> None:
    """The bot's signals (some of days ago: a signal carries its own time) and one ticket of today, answered
    in time by the lead, through the API."""
    then, yesterday = now - 3 * DAY, now - DAY
    signals: list[dict[str, Any]] = [
        {"type": "kb_answered", "conversation_id": f"b{i}", "language": "de", "at": then} for i in range(1, 7)]
    signals += [{"type": "kb_feedback", "conversation_id": f"b{i}", "language": "de", "at": then,
                 "article_id": "kb-a", "helped": helped} for i, helped in ((1, True), (2, False), (3, True))]
    signals += [{"type": "kb_no_answer", "conversation_id": f"n{i}", "language": "de", "at": yesterday,
                 "text": "Die App startet seit heute nicht"} for i in range(2)]
    signals.append({"type": "declined", "conversation_id": "d1", "language": "en", "at": yesterday})
    assert http_json(url + "/api/v1/bot/signals", {"signals": signals}, token=BOT) == (202, {"accepted": 12})
    body = {"conversation_id": "today-1", "channel": "socketio", "language": "de", "category": "technical",
            "description": "Die App zeigt Fehler E42", "error_code": "E42", "customer": {"email": "heute@example.com"}}
    status, created = http_json(url + "/api/v1/tickets", body, token=BOT)
    assert status == 201, created
    status, claimed = http_json(url + "/api/v1/agent/claim", {"queues": ["tech-support"]}, token=LEAD)
    assert claimed["ticket"]["reference"] == created["reference"]
    status, replied = http_json(url + f"/api/v1/agent/tickets/{created['reference']}/reply", {"text": "Hallo!"},
                                token=LEAD)
    assert status == 200, replied


def chart_data(page: Any, figure: str, index: int = 0) -> list[list[Any]]:
    """The datasets of a figure's ``index``-th chart, read from the Chart.js object on its canvas."""
    return list(page.evaluate(
        """([figure, index]) => {
             const canvas = document.querySelectorAll(`[data-figure=${figure}] canvas`)[index];
             const chart = window.Chart.getChart(canvas);
             return chart.data.datasets.map(d => d.data);
           }""", [figure, index]))


def totals(page: Any) -> dict[str, str]:
    return {name: str(page.locator(f"[data-figure={name}] .total").inner_text()) for name in
            ("deflection", "helped_votes", "signals", "escalation", "sla_first_response", "csat", "incidents")}


def test_a_lead_sees_the_analytics_with_the_right_figures(handoff: Handoff, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ctx = OfflineContext(browser, "de-DE", {"width": 1366, "height": 900})
    try:
        page = ctx.new_page()
        console = Console(page, handoff.url)
        console.sign_in(LEAD)
        expect(page.locator("#views")).to_be_visible()
        page.locator("#nav-analytics").click()
        expect(page.locator("#view-analytics")).to_be_visible()
        expect(page.locator("[data-figure=incidents] canvas")).to_have_count(1, timeout=WAIT_MS)
        assert page.locator("#view-analytics canvas").count() == 10
        assert page.evaluate("document.querySelectorAll('#view-analytics canvas').length") == page.evaluate(
            "Array.from(document.querySelectorAll('#view-analytics canvas')).filter(c => Chart.getChart(c)).length")

        # German: every figure with its numerator and denominator
        assert totals(page) == {
            "deflection": "4 von 6 Gesprächen (66,7 %) bekamen kein Ticket innerhalb von 24 Std.; "
                          "0 weitere sind noch innerhalb von 24 Std.",
            "helped_votes": "2 von 3 Stimmen (66,7 %)",
            "signals": "KB-Antwort: 6 · Zwei ähnliche Antworten: 0 · Keine Antwort: 2 · Stimmen: 3 · Abgelehnt: 1",
            "escalation": "2 Eskalationen bei 5 neuen Tickets (40 %); davon 1 durch den SLA-Wächter.",
            "sla_first_response": "3 von 4 fälligen ersten Antworten (75 %)",
            "csat": "2 von 3 Bewertungen (66,7 %) waren 4 oder 5; Durchschnitt 3,33.",
            "incidents": "1 eröffnet, 1 behoben, 3 Gespräche verknüpft (1 wieder gelöst).",
        }
        # the charts hold the same numbers, in the right day (three days ago = the 4th of 7 days)
        deflected, ticketed, pending = chart_data(page, "deflection")
        assert (deflected, ticketed, pending) == ([0, 0, 0, 4, 0, 0, 0], [0, 0, 0, 2, 0, 0, 0], [0] * 7)
        assert chart_data(page, "helped_votes") == [[0, 0, 0, 2, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0]]
        assert chart_data(page, "incidents") == [[0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 3, 0],
                                                 [0, 0, 0, 0, 0, 1, 0]]
        assert chart_data(page, "csat") == [[1, 0, 0, 1, 1]]
        by_category = chart_data(page, "escalation", 1)
        assert by_category == [[66.7, 0]]  # technical 2 of 3, billing 0 of 2 (most new tickets first)
        sla = chart_data(page, "sla_first_response")
        assert sla == [[66.7, 100]]  # tech-support 2 of 3, billing 1 of 1
        # and the tables next to them
        rows = page.locator("[data-figure=escalation] table.figures tbody tr")
        assert rows.all_inner_texts() == ["technical\t2\t3\t66,7 %", "billing\t0\t2\t0 %"]
        assert page.locator("[data-figure=deflection] tfoot tr").inner_text() == "Gesamt\t6\t4\t2\t0\t66,7 %"
        assert page.locator("[data-figure=csat] tfoot tr").inner_text() == "Gesamt\t2\t3\t66,7 %\t3,33"
        page.screenshot(path=str(SCREENSHOTS / "agent-console-analytics.png"), full_page=True)

        # by agent: the agent's escalations over the agent's claims; the SLA watcher is not an agent
        page.locator("#fa-dimension").select_option("by_agent")
        expect(rows.first).to_contain_text("alice")
        assert rows.all_inner_texts() == ["alice\t1\t2\t50 %", "bob\t0\t2\t0 %", "lena\t0\t1\t0 %"]

        # 30 days, in English: the same totals, 30 buckets
        page.locator(".period-switch button[data-since='30d']").click()
        expect(page.locator(".period-switch button[data-since='30d']")).to_have_attribute("aria-pressed", "true")
        page.locator("#ui-lang").select_option("en")
        expect(page.locator("[data-figure=deflection] .total")).to_have_text(
            "4 of 6 conversations (66.7 %) got no ticket within 24 h; 0 more still within 24 h.", timeout=WAIT_MS)
        # a function, not an expression: the console's CSP forbids the eval Playwright would poll an expression with
        page.wait_for_function("() => Chart.getChart(document.querySelector('[data-figure=deflection] canvas'))"
                               ".data.labels.length === 30")
        assert sum(chart_data(page, "deflection")[0]) == 4
        assert totals(page)["escalation"] == "2 escalations of 5 new tickets (40 %); 1 of them by the SLA watcher."
        expect(page.locator("#fa-dimension")).to_have_value("by_agent")  # the breakdown chosen stays
        page.screenshot(path=str(SCREENSHOTS / "agent-console-analytics-30d-en.png"), full_page=False)

        # 24 hours, by hour: only today's ticket (answered in time) and nothing of the seeded days
        page.locator(".period-switch button[data-since='24h']").click()
        expect(page.locator("[data-figure=escalation] .total")).to_have_text(
            "0 escalations of 1 new tickets (0 %); 0 of them by the SLA watcher.", timeout=WAIT_MS)
        labels = page.evaluate("Chart.getChart(document.querySelector('[data-figure=deflection] canvas')).data.labels")
        assert len(labels) in (24, 25) and all(re.fullmatch(r"\d\d:00", label) for label in labels), labels
        assert totals(page)["sla_first_response"] == "1 of 1 first responses due (100 %)"

        # an agent who is not a lead has no analytics (the views bar shows the queues and incidents only)
        page.locator("#signout").click()
        console.sign_in(AGENT)
        expect(page.locator("#nav-analytics")).to_be_hidden()
        page.goto(handoff.url + "/agent#/analytics")
        expect(page.locator("#view-queues")).to_be_visible()
        expect(page.locator("#view-analytics")).to_be_hidden()

        assert ctx.blocked == [], ctx.blocked  # nothing from the network: Chart.js is served by the service
        assert ctx.console_errors == [], ctx.console_errors  # no CSP violation, no script error
    finally:
        ctx.close()


def test_the_report_renders_the_same_figures_offline(handoff: Handoff, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from stack.report_cli import cmd_report

    out_file, text = tmp_path / "report.html", io.StringIO()
    args = argparse.Namespace(since="7d", out=out_file, lang="de", redis_url=handoff.redis_url,
                              prefix=handoff.prefix, timezone="UTC")
    assert in_thread(lambda: cmd_report(args, text)) == 0
    assert "deflection: 4 of 6 answered conversations (66.7 %) got no ticket within 24 h; 0 pending" in text.getvalue()
    html = out_file.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)=["'](?!#)""", html)  # nothing to load: everything is inline

    ctx = OfflineContext(browser, "de-DE", {"width": 1366, "height": 900})
    try:
        page = ctx.new_page()
        page.set_content(html)
        expect(page.locator("[data-figure=incidents] canvas")).to_have_count(1, timeout=WAIT_MS)
        assert totals(page)["deflection"].startswith("4 von 6 Gesprächen (66,7 %)")
        assert totals(page)["escalation"] == "2 Eskalationen bei 5 neuen Tickets (40 %); davon 1 durch den SLA-Wächter."
        assert chart_data(page, "deflection")[0] == [0, 0, 0, 4, 0, 0, 0]
        page.screenshot(path=str(SCREENSHOTS / "report-7d.png"), full_page=False)
        assert ctx.blocked == [] and ctx.console_errors == [], (ctx.blocked, ctx.console_errors)
    finally:
        ctx.close()


def test_the_queues_and_a_ticket_still_work_beside_the_analytics(handoff: Handoff, browser: Any) -> None:
    """The console's own views with the analytics scripts loaded: a lead claims with `n`, sees the ticket,
    goes back with Esc and on to Analytics and back; no script error, nothing from the network."""
    from playwright.sync_api import expect

    status, created = http_json(handoff.url + "/api/v1/tickets", {
        "conversation_id": "views-1", "channel": "socketio", "language": "en", "category": "billing",
        "description": "I was charged twice", "customer": {"email": "views@example.com"}}, token=BOT)
    assert status == 201, created
    ctx = OfflineContext(browser, "en-GB")
    try:
        page = ctx.new_page()
        Console(page, handoff.url).sign_in(LEAD)
        expect(page.locator(f"#ticket-rows tr[data-ref={created['reference']}]")).to_be_visible()
        page.keyboard.press("n")
        expect(page.locator("#view-ticket")).to_be_visible()
        expect(page.locator("#ticket-title")).to_have_text(created["reference"])
        expect(page.locator("#t-summary")).not_to_be_empty()
        page.keyboard.press("Escape")
        expect(page.locator("#view-queues")).to_be_visible()
        expect(page.locator("#nav-queues")).to_have_attribute("aria-current", "page")
        page.locator("#nav-analytics").click()
        expect(page.locator("[data-figure=deflection] canvas")).to_have_count(1)
        expect(page.locator("#nav-analytics")).to_have_attribute("aria-current", "page")
        page.keyboard.press("Escape")
        expect(page.locator("#view-queues")).to_be_visible()
        expect(page.locator("#view-analytics")).to_be_hidden()
        assert ctx.blocked == [] and ctx.console_errors == [], (ctx.blocked, ctx.console_errors)
    finally:
        ctx.close()
