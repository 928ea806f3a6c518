"""The SLA watcher's schedule: every write keeps a ticket's next check time, a sweep reads only what is due."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from handoff_helpers import FakeClock, agent_headers, bot_headers, payload

from dataclasses import replace

from handoff import keys as appkeys
from handoff.tickets import Ticket, decode, encode_fields, encode_view
from handoff.settings import BusinessHours
from handoff.transitions import Event, next_sla_check, sla_checks

DUE, WARN, TIER = 2000.0, 1800.0, 1200.0
HOURS = BusinessHours()


def _ticket(**state: Any) -> Ticket:
    base: dict[str, Any] = {
        "customer": {}, "channels": ({"channel": "rest", "conversation_id": "c", "attached_at": 0.0},),
        "language": "en", "category": "general", "created_at": 0.0, "queue": "tier1-general", "tier": 1,
        "priority": "P3", "updated_at": 0.0, "enqueued_at": 0.0, "tier_entered_at": 0.0,
        "first_response_due": DUE, "resolution_due": 9000.0, "warn_at": WARN,
    }
    return Ticket(**{**base, **state})


@pytest.mark.parametrize("state, expected", [
    ({"status": "queued", "tier_due": TIER}, TIER),
    ({"status": "queued"}, WARN),
    ({"status": "queued", "warned": True}, DUE),
    ({"status": "queued", "warned": True, "breached": True}, None),
    # breached without a warning (the sweep came late): the warning's time has gone, nothing left but the tier
    ({"status": "queued", "breached": True, "tier_due": 5000.0}, 5000.0),
    ({"status": "claimed", "first_response_at": 1500.0}, None),
    ({"status": "waiting_customer", "first_response_at": 1.0, "tier_due": TIER}, None),
    ({"status": "resolved", "tier_due": TIER}, None),
])
def test_next_check(state: dict[str, Any], expected: float | None) -> None:
    ticket = _ticket(**state)
    assert next_sla_check(ticket, HOURS) == expected
    # the sweep's step predicate agrees: at the scheduled time a step is due, a moment before none is
    if expected is not None:
        assert sla_checks(ticket, expected, HOURS) and not sla_checks(ticket, expected - 0.001, HOURS)
    # and the stored form reads back as the same ticket
    assert decode({**encode_fields(ticket), "view": encode_view(ticket)}) == ticket


async def _create(client: TestClient, conversation: str) -> dict[str, Any]:
    body = payload(conversation, category="general", description="question", customer={})
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    assert resp.status == 201
    return dict(await resp.json())


async def test_a_sweep_reads_only_the_tickets_that_are_due(client: TestClient, clock: FakeClock) -> None:
    service = client.app[appkeys.SERVICE]
    early = [(await _create(client, f"early-{i}"))["reference"] for i in range(5)]
    clock.advance(10 * 60)
    late = [(await _create(client, f"late-{i}"))["reference"] for i in range(5)]
    store = service.store
    assert await store.due_refs(clock(), 100) == []
    clock.advance(11 * 60)  # the early ones have been at tier 1 for 21 minutes, the late ones for 11
    assert sorted(await store.due_refs(clock(), 100)) == sorted(early)
    assert (await service.sweep_sla())["escalated"] == 5
    assert await store.due_refs(clock(), 100) == []
    for ref in early:  # escalated: next is the warning before the first response (80 % of 60 min)
        ticket = await store.ticket(ref)
        assert ticket.queue == "tech-support"
        assert await store.sla_scheduled(ref) == pytest.approx(ticket.warn_at)
    for ref in late:
        assert await store.sla_scheduled(ref) == pytest.approx((await store.ticket(ref)).tier_due)


async def test_the_schedule_follows_replies_waiting_and_resolution(client: TestClient, clock: FakeClock) -> None:
    service, store = client.app[appkeys.SERVICE], client.app[appkeys.SERVICE].store
    ticket = await _create(client, "s-1")
    ref = ticket["reference"]
    claimed = await client.post("/api/v1/agent/claim", json={"queues": ["tier1-general"]}, headers=agent_headers())
    assert (await claimed.json())["ticket"]["reference"] == ref
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/reply", json={"text": "Which device?"},
                             headers=agent_headers())
    assert resp.status == 200
    # answered and waiting for the customer: no SLA clock runs, so nothing is scheduled
    assert await store.sla_scheduled(ref) is None
    clock.advance(25 * 60)
    assert (await service.sweep_sla())["escalated"] == 0
    await service.customer_message("s-1", "An iPhone", None)  # back with the agent, past the tier-1 limit
    assert await store.sla_scheduled(ref) == pytest.approx((await store.ticket(ref)).tier_due)
    assert (await service.sweep_sla())["escalated"] == 1
    await service.resolve(ref, "lead", "lead", "fixed", None)
    assert await store.sla_scheduled(ref) is None


async def test_tickets_from_before_the_schedule_are_backfilled(client: TestClient, clock: FakeClock) -> None:
    service, store = client.app[appkeys.SERVICE], client.app[appkeys.SERVICE].store
    refs = [(await _create(client, f"old-{i}"))["reference"] for i in range(3)]
    await store.redis.delete(store._k("sla", "due"), store._k("sla", "scheduled"))  # an older version's data
    clock.advance(21 * 60)
    assert (await service.sweep_sla())["escalated"] == 3
    for ref in refs:
        assert await store.sla_scheduled(ref) == pytest.approx((await store.ticket(ref)).warn_at)


async def test_a_due_check_with_nothing_to_do_waits_for_the_next_sweep(client: TestClient, clock: FakeClock) -> None:
    store = client.app[appkeys.SERVICE].store
    ref = (await _create(client, "n-1"))["reference"]
    # a tier-1 limit that has passed on a ticket whose escalation target is its own queue
    await store.mutate(ref, lambda t: (replace(t, tier_due=clock() - 1), Event("test", "test")), clock())
    await store.redis.zadd(store._k("sla", "due"), {ref: clock() - 1})
    await store.reschedule_sla(ref, clock(), clock() + 30)
    assert await store.sla_scheduled(ref) == pytest.approx(clock() + 30)


async def _hgetall_calls(client: TestClient) -> int:
    stats = await client.app[appkeys.SERVICE].store.redis.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_a_sweep_costs_what_is_due_not_what_is_open(client: TestClient, clock: FakeClock) -> None:
    service = client.app[appkeys.SERVICE]
    for i in range(200):
        await _create(client, f"many-{i}")
    await service.sweep_sla()  # the one-time backfill check
    before = await _hgetall_calls(client)
    assert await service.sweep_sla() == {"warned": 0, "breached": 0, "escalated": 0, "tier_alerts": 0,
                                           "risk_raised": 0}
    assert await _hgetall_calls(client) - before == 0  # nothing due: no ticket is read
    due = (await _create(client, "the-due-one"))["reference"]
    clock.advance(21 * 60)
    await service.store.redis.zadd(service.store._k("sla", "due"), {f"T-{i:06d}": clock() + 3600 for i in range(1, 201)})
    before = await _hgetall_calls(client)
    assert (await service.sweep_sla())["escalated"] == 1
    assert (await service.store.ticket(due)).tier == 2
    assert await _hgetall_calls(client) - before <= 5  # the due ticket: snapshot, atomic update, reschedule
