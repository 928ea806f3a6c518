"""Incidents against the real Redis: the burst rule (pure), a burst of matching tickets opens one incident
with its first reports and child tickets, later reports join it, a different problem is not swallowed, the
bot links and unlinks customers, leads confirm / rename / merge / resolve, and resolving tells every linked
conversation (retried until Rasa accepts) and resolves the child tickets."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import FakeRasa
from handoff_helpers import LEAD, FakeClock, agent_headers, bot_headers, payload

from handoff import incidents
from handoff import keys as appkeys
from handoff.incident_service import report_of_signal
from handoff.incidents import Report
from handoff.settings import Settings

# -- the rule, pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("history", "needed"), [(0, 5), (1, 5), (48 * 7, 9), (480 * 7, 27)])
def test_the_reports_a_burst_needs_follow_the_keys_own_history(history: int, needed: int) -> None:
    assert incidents.reports_needed(history) == needed
    assert incidents.is_burst(needed, history) and not incidents.is_burst(needed - 1, history)


def test_report_keys() -> None:
    assert incidents.report_keys(category="technical", product="Smart TV app", error_code="e-1001 ",
                                 articles_not_helped=["tech-tv-error-1001"]) == (
        "error:E-1001", "product:technical:smart tv app", "article:tech-tv-error-1001")
    assert incidents.report_keys(category="billing") == ()
    assert incidents.report_keys(product="Streamly Stick") == ()  # a product alone says too little


def test_poisson_tail() -> None:
    assert incidents.poisson_tail(0, 3.0) == 1.0
    assert incidents.poisson_tail(1, 2.0) == pytest.approx(1 - 0.1353352832, abs=1e-9)
    assert incidents.poisson_tail(5, 0.05) < 1e-7


def test_only_open_incidents_can_change() -> None:
    incident = incidents.Incident(id="I-000001", title="x", status="resolved", keys=("error:E-1",), opened_at=1.0)
    for change in (lambda i: incidents.confirm(i, "lena", 2.0), lambda i: incidents.rename(i, "y", "lena"),
                   lambda i: incidents.resolve(i, "lena", {}, 2.0), lambda i: incidents.merged(i, "I-000002")):
        with pytest.raises(incidents.Conflict):
            change(incident)


# -- the service, on the real Redis --------------------------------------------------------------------


@pytest.fixture
async def app_client(make_client: Callable[..., Any], settings: Settings,
                     fake_rasa: tuple[FakeRasa, str]) -> TestClient:
    # the detector and the notifier are driven by the test (consume / send_due_notifications), not by timers
    client: TestClient = await make_client(dataclasses.replace(settings, rasa_url=fake_rasa[1]))
    return client


def service(client: TestClient) -> Any:
    return client.server.app[appkeys.INCIDENTS]


async def create(client: TestClient, conversation: str, **overrides: Any) -> str:
    body = payload(conversation, customer={"email": f"{conversation}@example.com"}, **overrides)
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["reference"])


async def detect(client: TestClient) -> None:
    """What the background detector does: read the new entries of both streams."""
    store = client.server.app[appkeys.STORE]
    for stream in (store.events_key, store.signals_key):
        await store.ensure_group("incidents", stream)
        while await service(client).consume(stream, "test", block_ms=1):
            pass


async def open_incidents(client: TestClient) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/agent/incidents", headers=agent_headers())
    assert resp.status == 200
    return list((await resp.json())["incidents"])


STICK = {"category": "technical", "product": "Streamly Stick", "error_code": "E-2002",
         "description": "The stick shows E-2002 and plays nothing", "articles_shown": []}


async def test_a_burst_of_matching_tickets_opens_one_incident(app_client: TestClient, clock: FakeClock) -> None:
    store = app_client.server.app[appkeys.STORE]
    await store.ensure_group("incidents", store.events_key)  # the detector reads from its start
    refs = []
    for i in range(4):
        refs.append(await create(app_client, f"burst-{i}", **STICK))
        clock.advance(60)
    await detect(app_client)
    assert await open_incidents(app_client) == []  # four reports are not yet a burst
    refs.append(await create(app_client, "burst-4", **STICK))
    await detect(app_client)
    found = await open_incidents(app_client)
    assert len(found) == 1
    incident = found[0]
    assert incident["status"] == "open" and incident["reports"] == 5 and incident["conversations"] == 5
    assert incident["error_code"] == "E-2002" and "E-2002" in incident["title"]
    assert [r["reference"] for r in incident["first_reports"]] == refs
    assert all("[card" not in r["text"] for r in incident["first_reports"])
    # every report is a child ticket of it (parent link), with its event on the stream
    for ref in refs:
        ticket = await (await app_client.get(f"/api/v1/agent/tickets/{ref}", headers=agent_headers())).json()
        assert ticket["incident"] == incident["id"]
    events = [e["type"] for e in await store.events(200)]
    assert events.count("incident_opened") == 1 and events.count("incident_linked") == 5

    # more matching tickets join it; no second incident
    for i in range(5, 9):
        await create(app_client, f"burst-{i}", **STICK)
    await detect(app_client)
    found = await open_incidents(app_client)
    assert len(found) == 1 and found[0]["reports"] == 9
    detail = await (await app_client.get(f"/api/v1/agent/incidents/{incident['id']}", headers=agent_headers())).json()
    assert len(detail["tickets"]) == 9 and detail["conversations_by_how"] == {"report": 9}

    # a different problem is not swallowed
    other = await create(app_client, "billing-1", category="billing", product="Premium plan", error_code="",
                         articles_shown=[], description="charged twice")
    await detect(app_client)
    ticket = await (await app_client.get(f"/api/v1/agent/tickets/{other}", headers=agent_headers())).json()
    assert ticket["incident"] == ""
    assert len(await open_incidents(app_client)) == 1


async def test_a_key_with_a_usual_rate_needs_more(app_client: TestClient, clock: FakeClock) -> None:
    svc = service(app_client)

    def report(conv: str) -> Report:
        return Report(conversation_id=conv, at=clock(), language="de", category="billing", product="Premium",
                      source="bot")

    for day in range(7):  # 48 reports a day for a week: one per half hour is this key's normal
        for k in range(48):
            assert await svc.report(report(f"usual-{day}-{k}")) is None
            clock.advance(1800)
    opened = [await svc.report(report(f"now-{k}")) for k in range(10)]
    assert opened[:7] == [None] * 7  # 5 would open on a quiet key; here 8 in a window are still usual
    assert opened[-1] is not None


async def test_the_bots_unanswered_conversations_are_reports_too(app_client: TestClient) -> None:
    svc = service(app_client)
    for i in range(5):
        report = report_of_signal("kb_no_answer", f"bot-{i}", svc.clock() + i, {
            "language": "da", "category": "technical", "product": "Smart TV app", "text": "tv app viser sort skærm"})
        assert report is not None
        await svc.report(report)
    assert report_of_signal("kb_feedback", "x", 1.0, {"helped": True, "article_id": "a"}) is None
    found = await open_incidents(app_client)
    assert len(found) == 1 and found[0]["product"] == "Smart TV app" and found[0]["reports"] == 5
    assert {r["source"] for r in found[0]["first_reports"]} == {"bot"}


async def test_the_bot_links_and_unlinks_a_customer(app_client: TestClient, clock: FakeClock) -> None:
    svc = service(app_client)
    for i in range(5):
        await svc.report(Report(conversation_id=f"r-{i}", at=clock(), language="en", error_code="E-1001",
                                source="bot"))
    resp = await app_client.get("/api/v1/bot/incidents", headers=bot_headers())
    listed = (await resp.json())["incidents"]
    assert len(listed) == 1 and listed[0]["keys"] == ["error:E-1001"]
    incident_id = listed[0]["id"]
    assert (await app_client.get("/api/v1/bot/incidents", headers=agent_headers())).status == 401
    resp = await app_client.post(f"/api/v1/bot/incidents/{incident_id}/conversations", headers=bot_headers(),
                                 json={"conversation_id": "told-1", "language": "de"})
    assert resp.status == 200 and (await resp.json())["id"] == incident_id
    bad = await app_client.post(f"/api/v1/bot/incidents/{incident_id}/conversations", headers=bot_headers(),
                                json={"conversation_id": "told-2", "language": "fr"})
    assert bad.status == 400 and "language" in (await bad.json())["detail"]
    detail = await svc.detail(incident_id)
    assert detail["conversations_by_how"] == {"report": 5, "told": 1} and detail["reports"] == 5
    resp = await app_client.delete(f"/api/v1/bot/incidents/{incident_id}/conversations/told-1",
                                   headers=bot_headers())
    assert (await resp.json()) == {"unlinked": True}
    assert (await svc.detail(incident_id))["conversations"] == 5
    public = await (await app_client.get(f"/api/v1/bot/incidents/{incident_id}", headers=bot_headers())).json()
    assert set(public) == {"id", "title", "status", "resolved_at"}  # nothing about other customers
    missing = await app_client.get("/api/v1/bot/incidents/I-999999", headers=bot_headers())
    assert missing.status == 404


async def open_one(svc: Any, code: str, prefix: str, language: str = "en") -> str:
    incident_id = None
    for i in range(5):
        incident_id = await svc.report(Report(conversation_id=f"{prefix}-{i}", at=svc.clock(), language=language,
                                              error_code=code, source="bot"))
    assert incident_id is not None
    return str(incident_id)


async def test_leads_confirm_rename_merge(app_client: TestClient) -> None:
    svc = service(app_client)
    first = await open_one(svc, "E-3001", "a")
    second = await open_one(svc, "E-3002", "b")
    lead = agent_headers(LEAD)
    assert (await app_client.post(f"/api/v1/lead/incidents/{first}/confirm", headers=agent_headers())).status == 403
    confirmed = await (await app_client.post(f"/api/v1/lead/incidents/{first}/confirm", headers=lead)).json()
    assert confirmed["status"] == "confirmed" and confirmed["confirmed_by"] == "lena"
    renamed = await app_client.post(f"/api/v1/lead/incidents/{first}/rename", headers=lead,
                                    json={"title": "Login servers down"})
    assert (await renamed.json())["title"] == "Login servers down"
    too_long = await app_client.post(f"/api/v1/lead/incidents/{first}/rename", headers=lead, json={"title": "x" * 121})
    assert too_long.status == 400
    merged = await app_client.post(f"/api/v1/lead/incidents/{second}/merge", headers=lead, json={"into": first})
    body = await merged.json()
    assert merged.status == 200 and set(body["keys"]) == {"error:E-3001", "error:E-3002"} and body["reports"] == 10
    assert (await svc.detail(first))["conversations"] == 10
    assert [i["id"] for i in await open_incidents(app_client)] == [first]
    # a new report of the merged key joins the target; the bot's link to the old id lands there too
    assert await svc.report(Report(conversation_id="b-late", at=svc.clock(), language="en", error_code="E-3002",
                                   source="bot")) == first
    resp = await app_client.post(f"/api/v1/bot/incidents/{second}/conversations", headers=bot_headers(),
                                 json={"conversation_id": "told-late", "language": "en"})
    assert (await resp.json())["id"] == first
    again = await app_client.post(f"/api/v1/lead/incidents/{second}/merge", headers=lead, json={"into": first})
    assert again.status == 409
    itself = await app_client.post(f"/api/v1/lead/incidents/{first}/merge", headers=lead, json={"into": first})
    assert itself.status == 400
    events = [e["type"] for e in await app_client.server.app[appkeys.STORE].events(200)]
    assert {"incident_confirmed", "incident_renamed", "incident_merged"} <= set(events)


async def test_resolving_tells_every_linked_conversation_and_resolves_the_tickets(
        app_client: TestClient, clock: FakeClock, fake_rasa: tuple[FakeRasa, str]) -> None:
    rasa, _url = fake_rasa
    store = app_client.server.app[appkeys.STORE]
    await store.ensure_group("incidents", store.events_key)
    refs = [await create(app_client, f"res-{i}", **{**STICK, "language": lang})
            for i, lang in enumerate(["de", "en", "da", "de", "en"])]
    await detect(app_client)
    incident_id = (await open_incidents(app_client))[0]["id"]
    await app_client.post(f"/api/v1/bot/incidents/{incident_id}/conversations", headers=bot_headers(),
                          json={"conversation_id": "told-da", "language": "da"})
    rasa.fail = True  # Rasa is down at first: nobody is lost
    resp = await app_client.post(f"/api/v1/lead/incidents/{incident_id}/resolve", headers=agent_headers(LEAD),
                                 json={"message": {"de": "Ein Update behebt es.", "da": "En opdatering løser det."}})
    result = await resp.json()
    assert resp.status == 200 and result["conversations_to_tell"] == 6 and sorted(result["tickets_resolved"]) == refs
    svc = service(app_client)
    assert await svc.send_due_notifications() == 0 and len(rasa.calls) == 6
    assert (await svc.detail(incident_id))["notifications_pending"] == 6
    rasa.fail = False
    clock.advance(4)
    assert await svc.send_due_notifications() == 0  # the next try waits for its backoff (5 s)
    clock.advance(2)
    assert await svc.send_due_notifications() == 6
    told = {c["conversation_id"]: c["body"] for c in rasa.calls[6:]}
    assert set(told) == {f"res-{i}" for i in range(5)} | {"told-da"}
    assert all(b["name"] == "incident_resolved" for b in told.values())
    assert told["told-da"]["entities"]["incident_message"] == "En opdatering løser det."
    assert told["res-0"]["entities"]["incident_message"] == "Ein Update behebt es."
    assert told["res-1"]["entities"]["incident_message"] == ""  # no English text: the bot's own words
    assert told["res-0"]["entities"]["reference"] == refs[0]
    clock.advance(3600)
    assert await svc.send_due_notifications() == 0  # each told once
    for ref in refs:
        ticket = await (await app_client.get(f"/api/v1/agent/tickets/{ref}", headers=agent_headers())).json()
        assert ticket["status"] == "resolved" and incident_id in ticket["resolution"]
    assert (await open_incidents(app_client)) == []
    # the key is free again: a new burst later is a new incident
    clock.advance(3600)
    for i in range(5):
        await svc.report(Report(conversation_id=f"later-{i}", at=clock(), language="en", error_code="E-2002",
                                source="bot"))
    again = await open_incidents(app_client)
    assert len(again) == 1 and again[0]["id"] != incident_id
    stream = [e for e in await store.events(500) if e["type"] == "incident_resolved"]
    assert stream and stream[0]["incident"] == incident_id
    bad = await app_client.post(f"/api/v1/lead/incidents/{again[0]['id']}/resolve", headers=agent_headers(LEAD),
                                json={"message": {"fr": "x"}})
    assert bad.status == 400


async def test_the_notifier_sends_each_once_across_instances(make_client: Callable[..., Any], settings: Settings,
                                                             fake_rasa: tuple[FakeRasa, str]) -> None:
    rasa, url = fake_rasa
    one = await make_client(dataclasses.replace(settings, rasa_url=url, instance_id="one"))
    two = await make_client(dataclasses.replace(settings, rasa_url=url, instance_id="two"))
    incident_id = await open_one(service(one), "E-4004", "n")
    await service(one).resolve(incident_id, "lena", {})
    sent = await service(one).send_due_notifications() + await service(two).send_due_notifications()
    assert sent == 5 and len(rasa.calls) == 5
    assert json.dumps(rasa.calls).count("incident_resolved") == 5


async def test_a_lead_declares_an_incident_before_the_reports_come_in(app_client: TestClient, clock: FakeClock) -> None:
    lead = agent_headers(LEAD)
    resp = await app_client.post("/api/v1/lead/incidents", headers=lead, json={
        "title": "Payments down at our provider", "category": "billing", "product": "Premium plan"})
    declared = await resp.json()
    assert resp.status == 201 and declared["status"] == "confirmed" and declared["keys"] == [
        "product:billing:premium plan"]
    listed = (await (await app_client.get("/api/v1/bot/incidents", headers=bot_headers())).json())["incidents"]
    assert [i["id"] for i in listed] == [declared["id"]]
    again = await app_client.post("/api/v1/lead/incidents", headers=lead, json={
        "title": "Same", "category": "billing", "product": "premium  PLAN"})
    assert again.status == 409 and declared["id"] in (await again.json())["detail"]
    nothing = await app_client.post("/api/v1/lead/incidents", headers=lead, json={"title": "Vague", "category": "billing"})
    assert nothing.status == 400
    agent = await app_client.post("/api/v1/lead/incidents", headers=agent_headers(), json={"title": "x", "error_code": "E-1"})
    assert agent.status == 403
    joined = await service(app_client).report(Report(conversation_id="pay-1", at=clock(), language="de",
                                                     category="billing", product="Premium plan", source="bot"))
    assert joined == declared["id"]
