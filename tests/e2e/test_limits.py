"""The public chat channel's message limits, per conversation and per client address, on the real stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from bot.ratelimit import client_key
from stack.supervisor import Stack
from tests.e2e.conftest import http_json

pytestmark = pytest.mark.e2e


def post(stack: Stack, sender: str, message: str, forwarded_for: str | None = None,
         metadata: dict[str, Any] | None = None) -> tuple[int, dict[str, str], Any]:
    url = f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook"
    body = json.dumps({"sender": sender, "message": message, "metadata": metadata or {"language": "en"}}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    if forwarded_for:
        request.add_header("X-Forwarded-For", forwarded_for)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_one_conversation_cannot_flood_the_bot(stack: Stack) -> None:
    sender = f"flood-{uuid.uuid4().hex[:8]}"
    results = [post(stack, sender, "/not_offered") for _ in range(40)]
    statuses = [status for status, _, _ in results]
    assert 200 in statuses and 429 in statuses, statuses
    first = statuses.index(429)
    assert 15 <= first <= 25, statuses  # the burst (half the per-minute limit), then refused
    status, headers, replies = results[first]
    assert int(headers["Retry-After"]) >= 1
    assert replies[0]["text"].startswith("You are sending messages faster than I can answer")
    assert post(stack, f"calm-{uuid.uuid4().hex[:8]}", "hello")[0] == 200  # others are not affected


def test_one_client_address_cannot_flood_the_bot_through_many_conversations(stack: Stack) -> None:
    address = "198.51.100.77"
    statuses = [post(stack, f"many-{uuid.uuid4().hex[:8]}", "/not_offered", address)[0] for _ in range(90)]
    assert 429 in statuses, statuses
    assert 50 <= statuses.index(429) <= 70, statuses
    assert post(stack, f"neighbour-{uuid.uuid4().hex[:8]}", "/not_offered", "198.51.100.78")[0] == 200


def test_the_channel_names_the_client_and_a_client_cannot_choose_its_name(stack: Stack) -> None:
    sender = f"named-{uuid.uuid4().hex[:8]}"
    status, _, _ = post(stack, sender, "hello", "198.51.100.79",
                        metadata={"language": "en", "frontdoor_client": "forged"})
    assert status == 200
    s = stack.settings
    status, tracker = http_json(f"http://127.0.0.1:{s.rasa_port}/conversations/{urllib.parse.quote(sender)}"
                                f"/tracker?token={s.secrets['RASA_TOKEN']}")
    assert status == 200
    user = [e for e in tracker["events"] if e.get("event") == "user"][-1]
    assert user["metadata"]["frontdoor_client"] == client_key("198.51.100.79", s.secrets["FRONTDOOR_TOKEN_SECRET"])
