"""The handoff service's side of the helpdesk connector (connector/): the helpdesk token, linking a ticket to
its helpdesk twin, and the changes made in the helpdesk applied at most once per transaction key."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from handoff.settings import Settings
from handoff.tickets import Ticket, decode
from handoff_helpers import bot_headers, payload

HELPDESK = "helpdesk-secret"


def helpdesk_headers(token: str = HELPDESK) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _client(make_client: Any, settings: Settings, fake_rasa_url: str | None = None) -> TestClient:
    s = replace(settings, helpdesk_token=HELPDESK, **({"rasa_url": fake_rasa_url} if fake_rasa_url else {}))
    client: TestClient = await make_client(s)
    return client


async def _ticket(client: TestClient, conversation: str = "conv-hd") -> str:
    resp = await client.post("/api/v1/tickets", json=payload(conversation), headers=bot_headers())
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["reference"])


async def test_helpdesk_routes_need_the_helpdesk_token(make_client: Any, settings: Settings) -> None:
    client = await _client(make_client, settings)
    ref = await _ticket(client)
    for headers in ({}, bot_headers(), helpdesk_headers("wrong")):
        resp = await client.get(f"/api/v1/helpdesk/tickets/{ref}", headers=headers)
        assert resp.status == 401
    # without a token configured nothing gets in, not even an empty one
    plain: TestClient = await make_client(settings)
    resp = await plain.put(f"/api/v1/helpdesk/tickets/{ref}/link", json={"helpdesk_id": "1"},
                           headers=helpdesk_headers(HELPDESK))
    assert resp.status == 401


async def test_link_is_idempotent_and_one_twin_only(make_client: Any, settings: Settings) -> None:
    client = await _client(make_client, settings)
    ref = await _ticket(client)
    view = await (await client.get(f"/api/v1/helpdesk/tickets/{ref}", headers=helpdesk_headers())).json()
    assert view["helpdesk_id"] == "" and view["summary"] and "secret_reference" not in view
    for _ in range(2):
        resp = await client.put(f"/api/v1/helpdesk/tickets/{ref}/link", json={"helpdesk_id": "42"},
                                headers=helpdesk_headers())
        assert resp.status == 200 and await resp.json() == {"reference": ref, "helpdesk_id": "42"}
    resp = await client.put(f"/api/v1/helpdesk/tickets/{ref}/link", json={"helpdesk_id": "43"},
                            headers=helpdesk_headers())
    assert resp.status == 409 and "42" in (await resp.json())["detail"]
    resp = await client.put(f"/api/v1/helpdesk/tickets/{ref}/link", json={"helpdesk_id": 43},
                            headers=helpdesk_headers())
    assert resp.status == 400 and "helpdesk_id" in (await resp.json())["detail"]
    agent = await (await client.get(f"/api/v1/helpdesk/tickets/{ref}", headers=helpdesk_headers())).json()
    assert agent["helpdesk_id"] == "42"
    assert [h["action"] for h in agent["history"]].count("helpdesk_linked") == 1


async def test_reply_resolve_escalate_once_per_key(make_client: Any, settings: Settings,
                                                   fake_rasa: tuple[Any, str]) -> None:
    rasa, rasa_url = fake_rasa
    client = await _client(make_client, settings, rasa_url)
    ref = await _ticket(client)
    url = f"/api/v1/helpdesk/tickets/{ref}/actions"
    reply = {"action": "reply", "key": "rt-txn-10", "agent": "alice", "text": "We are on it."}
    first = await (await client.post(url, json=reply, headers=helpdesk_headers())).json()
    again = await (await client.post(url, json=reply, headers=helpdesk_headers())).json()
    assert first == {"reference": ref, "applied": True, "status": "waiting_customer", "delivered": True}
    assert again == {"reference": ref, "applied": False, "status": "waiting_customer"}
    assert [c["body"] for c in rasa.calls] == [{"name": "agent_message",
                                                "entities": {"agent_text": "We are on it.", "agent_name": "alice"}}]
    view = await (await client.get(f"/api/v1/helpdesk/tickets/{ref}", headers=helpdesk_headers())).json()
    assert view["agent"] == "alice" and len(view["replies"]) == 1 and view["first_response_at"]

    escalate = {"action": "escalate", "key": "rt-txn-11", "agent": "alice", "to_queue": "engineering"}
    body = await (await client.post(url, json=escalate, headers=helpdesk_headers())).json()
    assert body["applied"] and body["queue"] == "engineering" and body["status"] == "escalated"
    assert (await (await client.post(url, json=escalate, headers=helpdesk_headers())).json())["applied"] is False
    resp = await client.post(url, json={**escalate, "key": "rt-txn-12"}, headers=helpdesk_headers())
    assert resp.status == 409  # already there

    resolve = {"action": "resolve", "key": "rt-txn-13", "agent": "alice"}
    body = await (await client.post(url, json=resolve, headers=helpdesk_headers())).json()
    assert body == {"reference": ref, "applied": True, "status": "resolved", "bot_notified": True}
    assert (await (await client.post(url, json=resolve, headers=helpdesk_headers())).json())["applied"] is False
    assert [c["body"]["name"] for c in rasa.calls] == ["agent_message", "ticket_resolved"]  # once each
    resp = await client.post(url, json={**resolve, "key": "rt-txn-14"}, headers=helpdesk_headers())
    assert resp.status == 409  # resolved already: a new key cannot resolve it twice
    view = await (await client.get(f"/api/v1/helpdesk/tickets/{ref}", headers=helpdesk_headers())).json()
    assert view["resolution"] == "resolved in the helpdesk"


async def test_actions_are_validated_with_a_reason(make_client: Any, settings: Settings) -> None:
    client = await _client(make_client, settings)
    ref = await _ticket(client)
    url = f"/api/v1/helpdesk/tickets/{ref}/actions"
    cases = [
        ({"action": "reply", "key": "k", "agent": "a"}, "'text' is required"),
        ({"action": "escalate", "key": "k", "agent": "a"}, "'to_queue' is required"),
        ({"action": "escalate", "key": "k", "agent": "a", "to_queue": "nowhere"}, "unknown queue"),
        ({"action": "delete", "key": "k", "agent": "a"}, "'action' must be one of"),
        ({"action": "reply", "agent": "a", "text": "x"}, "'key' is required"),
        ({"action": "reply", "key": "k", "agent": " ", "text": "x"}, "'agent' must not be empty"),
    ]
    for body, reason in cases:
        resp = await client.post(url, json=body, headers=helpdesk_headers())
        assert resp.status == 400, body
        assert reason in (await resp.json())["detail"], body
    resp = await client.post("/api/v1/helpdesk/tickets/T-999999/actions",
                             json={"action": "resolve", "key": "k", "agent": "a"}, headers=helpdesk_headers())
    assert resp.status == 404


def test_a_ticket_stored_before_the_helpdesk_field_decodes() -> None:
    import json

    from handoff.tickets import encode_fields, encode_view
    from handoff.transitions import create
    from handoff.routing import Route
    from handoff.settings import BusinessHours

    (ticket, _), _ = create(payload(), Route(queue="tier1-general", tier=1, priority="P3", rule="r"),  # type: ignore[arg-type]
                            secret="S-x", now=1.0, hours=BusinessHours())
    view = json.loads(encode_view(ticket))
    del view["helpdesk_id"]  # as the version before the connector wrote it
    old: Ticket = decode({"view": json.dumps(view), **encode_fields(ticket)})
    assert old.helpdesk_id == "" and old == ticket
