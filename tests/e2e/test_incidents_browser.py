"""Incidents and KB gaps in the agents' console, in a real browser, on the handoff service alone (the fixture
of the analytics page): tickets naming the same error code open an incident, which the queues view names
in a banner for every agent; a lead opens Incidents, sees its first reports and child tickets, renames and
resolves it with a German note (the child tickets are resolved); an agent sees it but cannot act; a lead
declares one from the page; the lead's KB gaps page groups the unanswered questions. Screenshots go to
var/screenshots/ (docs/screenshots/ with FRONTDOOR_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bot.kb.encoder import encode_vector
from handoff import gaps
from tests.e2e.browser import WAIT_MS, Console, OfflineContext
from tests.e2e import test_analytics_browser as analytics_page
from tests.e2e.test_analytics_browser import AGENT, BOT, LEAD, SCREENSHOTS, Handoff
from tests.http_client import http_json

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# the analytics page's fixtures, under these names: the handoff service alone with its seeded days, and one
# Chromium for the module
seeded_handoff = analytics_page.handoff
chromium_browser = analytics_page.browser


def burst(handoff: Handoff, code: str) -> list[str]:
    refs = []
    for i, lang in enumerate(["de", "en", "da", "de", "en"]):
        status, created = http_json(handoff.url + "/api/v1/tickets", {
            "conversation_id": f"burst-{code}-{i}", "channel": "rest", "language": lang, "category": "technical",
            "product": "Streamly Stick", "error_code": code, "description": f"Stick zeigt {code}",
            "customer": {"email": f"b{i}@example.com"}}, token=BOT)
        assert status == 201, created
        refs.append(created["reference"])
    return refs


def incidents(handoff: Handoff, status: str = "open") -> list[dict[str, Any]]:
    code, body = http_json(handoff.url + f"/api/v1/agent/incidents?status={status}", token=LEAD)
    assert code == 200, body
    return list(body["incidents"])


def test_a_lead_handles_an_incident_and_reads_the_kb_gaps(seeded_handoff: Handoff, chromium_browser: Any) -> None:
    handoff, browser = seeded_handoff, chromium_browser
    import time

    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    refs = burst(handoff, "E-4711")
    deadline = time.monotonic() + 30
    while not [i for i in incidents(handoff) if i["error_code"] == "E-4711"] and time.monotonic() < deadline:
        time.sleep(0.2)
    opened = [i for i in incidents(handoff) if i["error_code"] == "E-4711"]
    assert len(opened) == 1, incidents(handoff, "all")
    incident_id = opened[0]["id"]
    signals = [{"type": "kb_no_answer", "conversation_id": f"gap-{i}", "language": lang,
                "text": f"karaoke {lang} {i}", "at": handoff.now - 60 * i,
                "embedding": encode_vector(gaps.reference()[lang] / np.linalg.norm(gaps.reference()[lang]))}
               for i, lang in enumerate(["de", "en", "da"])]
    assert http_json(handoff.url + "/api/v1/bot/signals", {"signals": signals}, token=BOT)[0] == 202

    ctx = OfflineContext(browser, "de-DE", {"width": 1366, "height": 900})
    try:
        page = ctx.new_page()
        console = Console(page, handoff.url)
        console.sign_in(LEAD)
        expect(page.locator("#incident-banner")).to_contain_text("E-4711", timeout=WAIT_MS)
        expect(page.locator("#incident-banner")).to_contain_text("5 Kunden")
        page.locator("#nav-incidents").click()
        card = page.locator(f"[data-incident='{incident_id}']")
        expect(card).to_contain_text("5 Meldungen", timeout=WAIT_MS)
        expect(card.locator(".first-reports li")).to_have_count(5, timeout=WAIT_MS)
        expect(card.locator(".ticket-chip")).to_have_count(5)
        expect(card).to_contain_text("DE 2, EN 2, DA 1")
        page.screenshot(path=str(SCREENSHOTS / "agent-console-incident.png"), full_page=True)

        card.locator(f"#rename-{incident_id}").fill("Stick: Wiedergabe bricht mit E-4711 ab")
        card.get_by_role("button", name="Umbenennen").click()
        expect(page.locator(f"[data-incident='{incident_id}'] h2").first).to_contain_text(
            "Stick: Wiedergabe bricht mit E-4711 ab", timeout=WAIT_MS)
        card = page.locator(f"[data-incident='{incident_id}']")
        card.locator(f"#resolve-de-{incident_id}").fill("Ein Update für den Stick ist verteilt.")
        card.get_by_role("button", name="Beheben").click()
        expect(page.locator("#notice")).to_contain_text("5 Gespräche werden informiert", timeout=WAIT_MS)
        assert [i for i in incidents(handoff, "all") if i["id"] == incident_id][0]["status"] == "resolved"
        assert [i for i in incidents(handoff, "all") if i["id"] == incident_id][0]["resolution"] == {
            "de": "Ein Update für den Stick ist verteilt."}
        for ref in refs:
            status, ticket = http_json(handoff.url + f"/api/v1/agent/tickets/{ref}", token=LEAD)
            assert ticket["status"] == "resolved" and ticket["incident"] == incident_id
        expect(page.locator(f"[data-incident='{incident_id}']")).to_have_count(0, timeout=WAIT_MS)

        # a lead declares one from the page
        page.locator("#declare-title").fill("Zahlungen beim Anbieter gestört")
        page.locator("#declare-category").fill("billing")
        page.locator("#declare-product").fill("Premium plan")
        page.locator(".declare-incident button[type=submit]").click()
        expect(page.locator("#notice")).to_contain_text("gemeldet", timeout=WAIT_MS)
        declared = [i for i in incidents(handoff) if i["title"] == "Zahlungen beim Anbieter gestört"]
        assert declared and declared[0]["status"] == "confirmed" and declared[0]["keys"] == [
            "product:billing:premium plan"]
        expect(page.locator(f"[data-incident='{declared[0]['id']}']")).to_contain_text("bestätigt", timeout=WAIT_MS)

        # the KB gaps: the three questions in three languages are one group, the largest (the fixture's own
        # unanswered questions of the analytics page come after it)
        page.locator("#nav-gaps").click()
        largest = page.locator("#gaps-root .gap").first
        expect(largest.locator("h2")).to_have_text("3 Gespräche · DA 1, DE 1, EN 1", timeout=WAIT_MS)
        expect(largest.locator(".examples li")).to_have_count(3)
        page.screenshot(path=str(SCREENSHOTS / "agent-console-kb-gaps.png"), full_page=True)
    finally:
        ctx.close()

    # an agent sees the incidents, cannot act, and has no KB gaps page
    ctx = OfflineContext(browser, "en-GB", {"width": 1366, "height": 900})
    try:
        page = ctx.new_page()
        Console(page, handoff.url).sign_in(AGENT)
        expect(page.locator("#incident-banner")).to_contain_text("Zahlungen beim Anbieter gestört", timeout=WAIT_MS)
        page.locator("#nav-incidents").click()
        expect(page.locator("#incidents-root .incident")).to_have_count(1, timeout=WAIT_MS)
        assert page.locator("#incidents-root .incident-actions").count() == 0
        assert page.locator(".declare-incident").count() == 0
        assert page.locator("#nav-gaps").is_hidden() and page.locator("#nav-analytics").is_hidden()
        assert ctx.console_errors == [] and ctx.blocked == []
    finally:
        ctx.close()
