"""The claim script writes the agents' JSON of a ticket itself: it must read back exactly like the decoded
record (``Store.ticket`` -> ``decode_ticket`` + lists, minus the secret reference), types included."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from handoff_helpers import AGENT2, FakeClock, agent_headers, bot_headers, payload

from handoff import keys as appkeys
from handoff.store import Store
from handoff.tickets import agent_view


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
    return agent_view(await store.ticket(ref))


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


async def test_the_script_writes_fresh_tickets_and_hands_unusual_values_to_python(client: TestClient) -> None:
    store = client.app[appkeys.STORE]
    redis = store.redis
    queues = ["tech-support"]

    async def claim_direct(ref: str, from_script: bool) -> None:
        claimed = await store.claim_next(queues, "alice", 1_764_000_100.5)
        assert claimed is not None and claimed.reference == ref
        assert claimed.from_script is from_script
        assert canonical(json.loads(claimed.agent_json)) == canonical(await decoded(store, ref))

    ref = await create(client, payload("fresh", customer={}))
    await claim_direct(ref, True)

    # numbers in every form the script copies: integer text in a float field, exponents, empty = null,
    # and a field no version of the service writes (decoded as a string)
    ref = await create(client, payload("odd-numbers", customer={}))
    await redis.hset(store._k("ticket", ref), mapping={
        "first_response_at": "1764000000", "resolved_at": "1.5e+9", "warn_at": "0.5E3", "tier_due": "",
        "rating": "4", "warned": "-2", "x_extra": 'text "quoted" \u00fc \\ /'})
    await claim_direct(ref, True)

    # values only Python reads the same way: an integer field as float text, a float with an
    # underscore or leading zeros, an integer too long for a double, a doc that repeats created_at
    for i, fields in enumerate([{"warned": "1.0"}, {"warn_at": "1_764_000_000"}, {"warn_at": "007.5"},
                                {"rating": "12345678901234567"}]):
        ref = await create(client, payload(f"python-{i}", customer={}))
        await redis.hset(store._k("ticket", ref), mapping=fields)
        await claim_direct(ref, False)
    ref = await create(client, payload("legacy-doc", customer={}))
    key = store._k("ticket", ref)
    doc = json.loads(await redis.hget(key, "doc"))
    assert "created_at" not in doc  # stored on its own since the claim script writes JSON
    await redis.hset(key, "doc", json.dumps({**doc, "created_at": float(await redis.hget(key, "created_at"))}))
    await claim_direct(ref, False)
