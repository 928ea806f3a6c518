"""Auth, validation and error mapping: 401/403/400/404/409/413, never a bare 500 for bad input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from handoff_helpers import AGENT, BOT, LEAD, agent_headers, bot_headers, payload

from handoff.web import ROUTES


async def test_bot_endpoints_need_the_bot_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, agent_headers(), {"Authorization": f"Basic {BOT}"}):
        resp = await client.post("/api/v1/tickets", json=payload(), headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"
    resp = await client.get("/api/v1/customers/cust-1/tickets", headers=agent_headers())
    assert resp.status == 401


async def test_agent_and_lead_endpoints(client: TestClient) -> None:
    for headers in ({}, bot_headers(), {"Authorization": "Bearer unknown"}):
        assert (await client.get("/api/v1/agent/queues", headers=headers)).status == 401
    assert (await client.get("/api/v1/agent/queues", headers=agent_headers())).status == 200
    for path in ("/api/v1/lead/agents", "/api/v1/lead/analytics"):
        assert (await client.get(path, headers=agent_headers(AGENT))).status == 403
        assert (await client.get(path, headers=agent_headers(LEAD))).status == 200
    assert (await client.post("/api/v1/lead/matrix/reload", headers=agent_headers(AGENT))).status == 403
    resp = await client.post("/api/v1/lead/matrix/reload", headers=agent_headers(LEAD))
    assert (await resp.json())["reloaded"] is True
    me = await (await client.get("/api/v1/agent/me", headers=agent_headers(LEAD))).json()
    assert me == {"name": "lena", "role": "lead"}


async def test_customer_sees_only_own_tickets(client: TestClient) -> None:
    mine = await (await client.post("/api/v1/tickets", json=payload("a"), headers=bot_headers())).json()
    other = payload("b", customer={"id": "cust-2", "verified": True})
    await client.post("/api/v1/tickets", json=other, headers=bot_headers())
    unverified = payload("c", customer={"id": "cust-3", "verified": False}, category="billing")
    await client.post("/api/v1/tickets", json=unverified, headers=bot_headers())
    tickets = (await (await client.get("/api/v1/customers/cust-1/tickets", headers=bot_headers())).json())["tickets"]
    assert [t["reference"] for t in tickets] == [mine["reference"]]
    assert (await (await client.get("/api/v1/customers/cust-3/tickets", headers=bot_headers())).json()) == {
        "tickets": []}
    view = await (await client.get(f"/api/v1/status/{mine['secret_reference']}")).json()
    assert set(view) == {"reference", "status", "queue", "priority", "queue_position", "expected_wait_minutes",
                         "expected_first_response_at", "agent_replies", "updated_at"}
    assert (await client.get("/api/v1/status/guessed-secret")).status == 404
    assert len(mine["secret_reference"]) >= 32


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"conversation_id": None}, "'conversation_id' must be a string"),
        ({"conversation_id": ""}, "'conversation_id' must not be empty"),
        ({"language": "fr"}, "'language' must be one of de, en, da"),
        ({"impact": "galaxy"}, "'impact' must be one of"),
        ({"urgency": 3}, "'urgency' must be a string"),
        ({"description": "x" * 5001}, "'description' is longer than 5000"),
        ({"customer": {"email": "not-an-email"}}, "'customer.email' is not an e-mail address"),
        ({"customer": {"tier": "gold"}}, "'customer.tier' must be one of standard, vip, b2b"),
        ({"customer": []}, "'customer' must be an object"),
        ({"tags": "a"}, "'tags' must be a list"),
        ({"articles_shown": [{"id": "a", "lang": "en", "title": "t", "feedback": "meh"}]},
         "'articles_shown[0].feedback' must be one of"),
        ({"transcript": [{"sender": "customer", "text": "hi"}]}, "'transcript[0].timestamp' must be a number"),
        ({"frustrated": "yes"}, "'frustrated' must be true or false"),
        ({"schema_version": 2}, "'schema_version' must be 1"),
    ],
)
async def test_create_validation(client: TestClient, change: dict[str, Any], reason: str) -> None:
    body = payload()
    for key, value in change.items():
        if value is None:
            body[key] = None
        body[key] = value
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    data = await resp.json()
    assert resp.status == 400
    assert data["error"] == "invalid_request" and reason in data["detail"]


async def test_missing_required_field(client: TestClient) -> None:
    body = payload()
    del body["description"]
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    assert resp.status == 400 and (await resp.json())["detail"] == "'description' is required"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b"",
                                 b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested too deeply
                                 b'{"conversation_id": "c", "description": "\\ud800 lone"}',  # a lone surrogate
                                 b'{"conversation_id": "c", "x": NaN}', b'{"conversation_id": "c", "x": -Infinity}'])
async def test_bad_json_is_400(client: TestClient, raw: bytes) -> None:
    resp = await client.post("/api/v1/tickets", data=raw, headers={**bot_headers(), "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["detail"]  # with a reason


async def test_a_nan_timestamp_is_refused_not_stored(client: TestClient) -> None:
    body = payload("nan-ts")
    body["transcript"] = [{"sender": "customer", "text": "hi", "timestamp": float("nan")}]
    import json

    raw = json.dumps(body).encode()  # Python writes NaN, which is not JSON
    resp = await client.post("/api/v1/tickets", data=raw, headers={**bot_headers(), "Content-Type": "application/json"})
    assert resp.status == 400 and "NaN" in (await resp.json())["detail"]


async def test_body_size_limit(client: TestClient) -> None:
    body = payload(description="x" * 300_000)
    resp = await client.post("/api/v1/tickets", json=body, headers=bot_headers())
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"


async def test_unknown_ticket_and_bad_state(client: TestClient) -> None:
    assert (await client.get("/api/v1/agent/tickets/T-999999", headers=agent_headers())).status == 404
    resp = await client.post("/api/v1/agent/tickets/T-999999/notes", json={"text": "x"}, headers=agent_headers())
    assert resp.status == 404
    assert (await client.get("/api/v1/tickets/by-conversation/nope", headers=bot_headers())).status == 404
    created = await (await client.post("/api/v1/tickets", json=payload(), headers=bot_headers())).json()
    ref = created["reference"]
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/reply", json={"text": "x"}, headers=agent_headers())
    assert resp.status == 409  # not claimed
    resp = await client.post(f"/api/v1/tickets/{ref}/rating", json={"rating": 4}, headers=bot_headers())
    assert resp.status == 409  # not resolved
    resp = await client.post(f"/api/v1/tickets/{ref}/rating", json={"rating": 9}, headers=bot_headers())
    assert resp.status == 400
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/escalate", json={"reason": "x"}, headers=agent_headers())
    assert resp.status == 403  # not the claiming agent and not a lead
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/escalate", json={"reason": "x", "to_queue": "mars"},
                             headers=agent_headers(LEAD))
    assert resp.status == 400
    resp = await client.post("/api/v1/agent/claim", json={"queues": ["mars"]}, headers=agent_headers())
    assert resp.status == 400
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/resolve", headers=agent_headers(LEAD),
                             json={"resolution": "x", "propose_article": {"title": "t"}})
    assert resp.status == 400
    assert (await client.get("/nowhere")).status == 404
    resp = await client.get("/api/v1/tickets")
    assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"


async def test_every_route_is_documented(client: TestClient) -> None:
    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    app: web.Application = client.app
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD":
            served.add((route.method, path))
    assert served == documented
    assert {(m, p) for m, p, _ in ROUTES} <= served  # the rest are the console's pages (handoff/console)
    for path in doc["paths"]:
        for name in re.findall(r"{(\w+)}", path):
            for op in doc["paths"][path].values():
                assert name in [p["name"] for p in op["parameters"]]


async def test_one_anonymous_client_opens_a_bounded_number_of_tickets_an_hour(
        make_client: Any, settings: Any, clock: Any) -> None:
    import dataclasses

    client = await make_client(dataclasses.replace(settings, tickets_per_client_hour=3))

    async def create(conversation: str, client_key: str = "c1", **extra: Any) -> Any:
        body = payload(conversation, client=client_key, customer=extra.pop("customer", {}), **extra)
        return await client.post("/api/v1/tickets", json=body, headers=bot_headers())

    assert [(await create(f"flood-{i}")).status for i in range(3)] == [201, 201, 201]
    refused = await create("flood-3")
    assert refused.status == 429
    assert (await refused.json())["error"] == "rate_limited"
    assert (await create("flood-0")).status == 200  # a retry of a conversation that has its ticket is free
    assert (await create("other", client_key="c2")).status == 201  # another client
    signed_in = {"id": "cust-9", "name": "Ida", "verified": True}
    assert (await create("signed-in", customer=signed_in)).status == 201  # a verified customer is accountable
    assert (await create("no-client", client_key="")).status == 201  # nothing to count by (the API, tests)
    clock.advance(3600)
    assert (await create("next-hour")).status == 201
