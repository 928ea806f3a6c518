"""Early warning against the real Redis: the data the risk score reads is stored, the SLA watcher raises
a risky ticket before its deadline (and not a quiet one), the agents' list carries and sorts by risk."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from handoff_helpers import FakeClock, agent_headers, bot_headers, payload

from handoff import keys as appkeys
from handoff import risk
from handoff.transitions import next_sla_check


async def _create(client: TestClient, conversation: str, **overrides: Any) -> str:
    body = payload(conversation, **{"category": "general", "description": "question", "customer": {}, **overrides})
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["reference"])


async def _write(client: TestClient, conversation: str, times: int) -> None:
    for i in range(times):
        resp = await client.post(f"/api/v1/tickets/by-conversation/{conversation}/messages",
                                 json={"text": f"hello? ({i})"}, headers=bot_headers())
        assert resp.status == 200


async def test_a_customer_who_keeps_writing_is_raised_before_the_deadline(client: TestClient,
                                                                          clock: FakeClock) -> None:
    service = client.app[appkeys.SERVICE]
    store, hours = service.store, service.settings.business_hours
    loud, quiet = await _create(client, "loud"), await _create(client, "quiet")
    for _ in range(2):  # an agent has both; neither is answered yet
        assert (await client.post("/api/v1/agent/claim", json={}, headers=agent_headers())).status == 200
    await _write(client, "loud", 3)
    ticket = await store.ticket(loud)
    assert ticket.messages_since_reply == 3 and ticket.priority == "P3" and ticket.status == "claimed"
    at = risk.high_from(ticket, hours)
    assert at is not None and clock() < at < ticket.warn_at, "the weights no longer make this case high early"
    assert await store.sla_scheduled(loud) == pytest.approx(at)  # the watcher will read it then
    assert risk.high_from(await store.ticket(quiet), hours) is None

    clock.now = at - 60
    assert (await service.sweep_sla())["risk_raised"] == 0
    clock.now = at + 1
    assert (await service.sweep_sla())["risk_raised"] == 1
    raised, lists = await service.view(loud)
    assert raised.risk_raised and raised.priority == "P2" and raised.first_response_at is None
    assert lists.history[-1]["action"] == "risk_raised" and lists.history[-1]["by"] == "sla-watcher"
    assert "messages 3" in lists.history[-1]["reason"]
    event = (await store.events(1))[0]
    assert event["type"] == "risk_raised" and "messages" in event["reasons"] and event["priority"] == "P2"
    # the quiet one is left alone up to its deadline (the pre-breach warning raises both, as before)
    clock.now = ticket.first_response_due - 1
    counts = await service.sweep_sla()
    assert counts["risk_raised"] == 0 and counts["warned"] == 2
    assert not (await store.ticket(quiet)).risk_raised
    assert (await service.sweep_sla())["risk_raised"] == 0  # once


async def test_an_agent_reply_clears_the_messages_and_moves_the_schedule(client: TestClient, clock: FakeClock) -> None:
    service = client.app[appkeys.SERVICE]
    store, hours = service.store, service.settings.business_hours
    ref = await _create(client, "r-1")
    assert (await client.post("/api/v1/agent/claim", json={}, headers=agent_headers())).status == 200
    await _write(client, "r-1", 3)
    early = risk.high_from(await store.ticket(ref), hours)
    assert early is not None
    assert await store.sla_scheduled(ref) == next_sla_check(await store.ticket(ref), hours)
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/reply", json={"text": "On it"}, headers=agent_headers())
    assert resp.status == 200
    ticket = await store.ticket(ref)
    assert ticket.messages_since_reply == 0
    assert await store.sla_scheduled(ref) == next_sla_check(ticket, hours)
    clock.now = early + 1
    assert (await service.sweep_sla())["risk_raised"] == 0


async def _rate(client: TestClient, ref: str, rating: int) -> None:
    if (await client.app[appkeys.STORE].ticket(ref)).status != "closed":
        resp = await client.post(f"/api/v1/agent/tickets/{ref}/resolve", json={"resolution": "done"},
                                 headers=agent_headers("lead-token"))
        assert resp.status == 200
    resp = await client.post(f"/api/v1/tickets/{ref}/rating", json={"rating": rating}, headers=bot_headers())
    assert resp.status == 200


async def test_the_negative_rating_history_follows_the_customer(client: TestClient) -> None:
    store = client.app[appkeys.SERVICE].store
    hours = client.app[appkeys.SERVICE].settings.business_hours
    ada = {"id": "ada-7", "verified": True, "email": "ada@example.com", "tier": "standard"}

    async def new(conversation: str, customer: dict[str, Any], category: str) -> int:
        ref = await _create(client, conversation, customer=customer, category=category)
        ticket = await store.ticket(ref)
        assert await store.sla_scheduled(ref) == next_sla_check(ticket, hours)  # the create script's pick
        return ticket.negative_ratings

    first = await _create(client, "a-1", customer=ada, category="billing")
    assert (await store.ticket(first)).negative_ratings == 0
    await _rate(client, first, 1)
    assert await new("a-2", ada, "technical") == 1
    assert await new("a-3", {"email": "ADA@example.com"}, "shipping") == 1  # the same e-mail, typed
    assert await new("b-1", {"id": "bob-1", "verified": True, "email": "bob@example.com"}, "billing") == 0
    second = await _create(client, "a-4", customer=ada, category="account")
    await _rate(client, second, 2)
    await _rate(client, await _create(client, "a-5", customer=ada, category="privacy"), 3)  # not negative
    assert await new("a-6", ada, "subscription") == 2
    await _rate(client, first, 5)  # rated again, better: it no longer counts
    assert await new("a-7", ada, "general") == 1


async def test_a_customer_with_a_bad_history_is_scheduled_earlier(client: TestClient) -> None:
    store = client.app[appkeys.SERVICE].store
    hours = client.app[appkeys.SERVICE].settings.business_hours
    grumpy = {"email": "grumpy@example.com"}
    for i in range(2):
        await _rate(client, await _create(client, f"g-{i}", customer=grumpy, category="billing"), 1)
    plain = await _create(client, "p-1", frustrated=True)
    again = await _create(client, "g-2", customer=grumpy, frustrated=True)
    known = await store.ticket(again)
    assert known.negative_ratings == 2 and known.contacts_7d == 3
    assert await store.sla_scheduled(again) == next_sla_check(known, hours)
    assert await store.sla_scheduled(again) < await store.sla_scheduled(plain)


async def test_the_ticket_list_carries_risk_and_sorts_by_it(client: TestClient) -> None:
    calm = await _create(client, "l-1")
    loud = await _create(client, "l-2")
    await _write(client, "l-2", 2)
    rows = (await (await client.get("/api/v1/agent/tickets", headers=agent_headers())).json())["tickets"]
    assert [r["reference"] for r in rows] == [calm, loud]  # same priority: the earlier deadline first
    by_ref = {r["reference"]: r["risk"] for r in rows}
    assert by_ref[calm] == {"score": 0, "level": "low", "reasons": []}
    assert by_ref[loud]["score"] > 0
    assert by_ref[loud]["reasons"] == [{"code": "messages", "value": 2, "points": 2 * risk.WEIGHTS.message}]
    resp = await client.get("/api/v1/agent/tickets?sort=risk", headers=agent_headers())
    assert [r["reference"] for r in (await resp.json())["tickets"]] == [loud, calm]
    resp = await client.get("/api/v1/agent/tickets?sort=priority", headers=agent_headers())
    assert [r["reference"] for r in (await resp.json())["tickets"]] == [calm, loud]
    resp = await client.get("/api/v1/agent/tickets?sort=mood", headers=agent_headers())
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_the_ticket_view_carries_risk_while_open(client: TestClient) -> None:
    ref = await _create(client, "v-1", frustrated=True)
    await _write(client, "v-1", 1)
    view = await (await client.get(f"/api/v1/agent/tickets/{ref}", headers=agent_headers())).json()
    assert [r["code"] for r in view["risk"]["reasons"]] == ["frustrated", "messages"]
    assert view["risk"]["score"] == risk.WEIGHTS.frustrated + risk.WEIGHTS.message
    await _rate(client, ref, 4)  # resolves it first
    view = await (await client.get(f"/api/v1/agent/tickets/{ref}", headers=agent_headers())).json()
    assert view["status"] == "closed" and view["risk"] is None


async def test_a_ticket_stored_without_the_new_fields_reads_and_gets_them(client: TestClient) -> None:
    store = client.app[appkeys.STORE]
    ref = await _create(client, "old-1")
    key = store._k("ticket", ref)
    await store.redis.hdel(key, "negative_ratings")  # as the previous version stored it
    assert (await store.ticket(ref)).negative_ratings == 0
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/notes", json={"text": "n"}, headers=agent_headers())
    assert resp.status == 200
    assert await store.redis.hget(key, "negative_ratings") == "0"  # written with the next change
    claimed = await store.claim_next(["tier1-general"], "alice", 1_764_000_100.0)
    assert claimed is not None and claimed.reference == ref and claimed.from_script


async def test_the_schedule_counts_the_services_business_hours(make_client: Any, settings: Any) -> None:
    from dataclasses import replace

    from handoff.settings import BusinessHours, parse_business_hours

    berlin = parse_business_hours("mon-fri 09:00-17:00", "Europe/Berlin")  # the clock's 16:00 UTC is 17:00 there
    client = await make_client(replace(settings, business_hours=berlin))
    store = client.app[appkeys.STORE]
    ref = await _create(client, "b-1", frustrated=True)
    await _write(client, "b-1", 3)
    ticket = await store.ticket(ref)
    assert next_sla_check(ticket, berlin) != next_sla_check(ticket, BusinessHours())
    assert await store.sla_scheduled(ref) == next_sla_check(ticket, berlin)
