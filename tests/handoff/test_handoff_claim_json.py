"""The claim's reply is joined from the stored parts (view, hash fields, lists) without decoding them: it
must read back exactly like the decoded ticket's agent view, types included; and the claim script must do
what the pure ``transitions.claim`` does."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from handoff_helpers import AGENT2, FakeClock, agent_headers, bot_headers, payload

from handoff import keys as appkeys
from dataclasses import replace

from handoff.store import Store
from handoff.tickets import FIELD_NAMES, HASH_FIELDS, agent_view
from handoff import transitions


def canonical(value: Any) -> str:
    """JSON with sorted keys: 1 and 1.0, [] and {}, "1" and 1 all differ."""
    return json.dumps(value, sort_keys=True)


async def create(client: TestClient, body: dict[str, Any]) -> str:
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    data = await resp.json()
    assert resp.status == 201, data
    return str(data["reference"])


async def claim_over_http(client: TestClient, token: str | None = None) -> dict[str, Any] | None:
    resp = await client.post("/api/v1/agent/claim", json={}, headers=agent_headers(*([token] if token else [])))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(await resp.read())["ticket"]  # type: ignore[no-any-return]


async def decoded(store: Store, ref: str) -> dict[str, Any]:
    return agent_view(*await store.ticket_with_lists(ref))


RICH = payload(
    "rich-1",
    customer={"id": "c-\u00e9", "name": 'Zo\u00eb \u00c5ngstr\u00f6m \U0001f600 "Q" \\ / \u2028', "verified": True,
              "tier": "vip", "email": "zoe@example.com",
              "extra": {"nested": [1, 2.5, {}, [], None, True], "big": 1e14, "small": 1e-7, "neg": -0.0,
                        "long": 12345678901234567, "precise": 0.1 + 0.2, "text": "\u65e5\u672c"}},
    tags=[], steps_tried=[], articles_shown=[],
    description='Line one\nline "two"\ttab </script> \u00fcber \\path\\ {"status": "x"}',
    transcript=[{"sender": "customer", "text": "\u00bfQu\u00e9?", "timestamp": 1764000000.1234567},
                {"sender": "bot", "text": "", "timestamp": 3},
                {"sender": "customer", "text": "big", "timestamp": 1e14}],
)


async def test_claimed_json_reads_like_the_decoded_ticket(client: TestClient, clock: FakeClock) -> None:
    store = client.app[appkeys.STORE]
    refs = [await create(client, payload())]  # FakeClock: a whole number of seconds (stored as "....0")
    clock.advance(0.123456789)
    refs.append(await create(client, RICH))
    refs.append(await create(client, payload("plain-2", customer={}, category="billing", description="refund")))
    claimed = []
    for _ in refs:
        clock.advance(1.0000001)
        ticket = await claim_over_http(client)
        assert ticket is not None
        assert canonical(ticket) == canonical(await decoded(store, ticket["reference"]))
        claimed.append(ticket["reference"])
    assert sorted(claimed) == sorted(refs)
    assert await claim_over_http(client) is None

    # with replies, notes, more history: release it and claim it again (as another agent)
    rich = refs[1]
    for path, body in ((f"/api/v1/agent/tickets/{rich}/notes", {"text": "\u00e4 note \U0001f527"}),
                       (f"/api/v1/agent/tickets/{rich}/reply", {"text": "Hej \u00e6\u00f8\u00e5"}),
                       (f"/api/v1/agent/tickets/{rich}/release", {"reason": "back \u2192 queue"})):
        resp = await client.post(path, json=body, headers=agent_headers())
        assert resp.status == 200, await resp.text()
    ticket = await claim_over_http(client, AGENT2)
    assert ticket is not None and ticket["reference"] == rich and ticket["agent"] == "bob"
    assert ticket["notes"] and ticket["replies"] and len(ticket["history"]) == 6
    assert ticket["customer"]["extra"]["nested"] == [1, 2.5, {}, [], None, True] and ticket["tags"] == []
    assert canonical(ticket) == canonical(await decoded(store, rich))
    assert "secret_reference" not in ticket


async def test_the_claim_script_does_what_the_transition_does(client: TestClient, clock: FakeClock) -> None:
    store = client.app[appkeys.STORE]
    ref = await create(client, payload("as-pure", customer={}))
    before = await store.ticket(ref)
    clock.advance(42.5)
    claimed = await store.claim_next([before.queue], "alice", clock())
    assert claimed is not None and claimed.reference == ref
    assert claimed.from_script  # the fast path: joined from the stored parts, nothing decoded
    after, lists = await store.ticket_with_lists(ref)
    assert canonical(json.loads(claimed.agent_json)) == canonical(agent_view(after, lists))
    expected, event = transitions.claim(before, "alice", clock())
    assert after == replace(expected, version=before.version + 1, updated_at=clock())
    assert lists.history[-1] == {"at": clock(), "by": event.by, "action": event.kind, "reason": event.reason}
    stream = (await store.events(1))[0]
    assert stream["type"] == "claimed" and stream["ref"] == ref and stream["queue"] == before.queue


async def test_a_ticket_stored_before_the_view_is_claimed_and_rewritten(client: TestClient) -> None:
    """A ticket written by an older version (a ``doc`` JSON with the static fields, every state field as
    text) is claimed through Python, reads the same, and its next change stores it in today's form."""
    store = client.app[appkeys.STORE]
    redis = store.redis
    ref = await create(client, payload("legacy", customer={}))
    ticket = await store.ticket(ref)
    key = store._k("ticket", ref)
    state = ("status", "queue", "tier", "priority", "agent", "version", "updated_at", "enqueued_at",
             "tier_entered_at", "first_response_due", "resolution_due", "warn_at", "tier_due", "warned", "breached",
             "routing_rule", "priority_reasons", "reference", "secret_reference", "contacts_7d", "customer_verified")
    doc = {n: getattr(ticket, n) for n in FIELD_NAMES if n not in state and n not in HASH_FIELDS
           and n not in ("created_at", "claimed_at", "first_response_at", "resolved_at", "rating", "reopened",
                         "resolution")}
    legacy = {"doc": json.dumps(doc), "created_at": repr(ticket.created_at),
              "tier_due": "" if ticket.tier_due is None else repr(ticket.tier_due),
              "warned": "0", "breached": "0", "tier": str(ticket.tier), "priority_reasons": json.dumps(
                  list(ticket.priority_reasons))}
    for name in state:
        if name not in legacy:
            value = getattr(ticket, name)
            legacy[name] = repr(value) if isinstance(value, float) else str(int(value)) if isinstance(
                value, bool) else str(value)
    await redis.delete(key)
    await redis.hset(key, mapping=legacy)
    assert await store.ticket(ref) == ticket
    claimed = await store.claim_next([ticket.queue], "alice", 1_764_000_100.5)
    assert claimed is not None and claimed.reference == ref and claimed.from_script is False
    assert canonical(json.loads(claimed.agent_json)) == canonical(await decoded(store, ref))
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/notes", json={"text": "n"}, headers=agent_headers())
    assert resp.status == 200
    stored = await redis.hgetall(key)
    assert "view" in stored and "doc" not in stored and "tier_entered_at" not in stored
    again = await store.ticket(ref)
    assert again == replace(ticket, status="claimed", agent="alice", claimed_at=1_764_000_100.5,
                            version=again.version, updated_at=again.updated_at)
