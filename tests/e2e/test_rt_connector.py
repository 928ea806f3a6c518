"""The whole path with the real stack (Rasa, action server, handoff service, Redis: the session's e2e stack)
and a real RT 5, the connector started as `frontdoor up` starts it (``Stack.connector_child``): a bot
conversation becomes a ticket, which appears in RT with the summary first, priority, requestor and custom
fields; an RT reply reaches the customer's chat; moving it to another RT queue is an escalation; resolving in
RT resolves our ticket and the bot asks the customer for a 1-5 rating."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from stack.embedded_redis import free_port
from stack.supervisor import Child, Stack
from tests.e2e.conftest import Chat
from tests.e2e.test_conversation import reference_in
from tests.rt.conftest import MAPPING, rt_call, rt_tickets_for, wait_for
from tests.rt.rt_server import CONNECTOR, RTServer

pytestmark = [pytest.mark.e2e, pytest.mark.rt]


@pytest.fixture
def connector(stack: Stack, rt: RTServer) -> Iterator[Child]:
    settings = replace(stack.settings, rt_url=rt.url, rt_token=rt.tokens[CONNECTOR], rt_queue_map=MAPPING,
                       rt_key_prefix=f"{stack.settings.key_prefix}rt:", rt_connector_port=free_port())
    child = Stack(settings, model=stack.model, extra_env={**stack.extra_env, "RT_POLL_INTERVAL": "0.5"}).connector_child()
    child.start(settings.root)
    try:
        wait_for(lambda: child.alive() and child.health(), 60, "the connector's health check")
        yield child
    finally:
        child.stop(timeout=15)
        print(f"--- rt-connector.log\n{child.log_tail(30)}")


def bot_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    """What the bot said in the conversation, from Rasa's tracker (agent replies arrive through
    trigger_intent, not as replies to a message of the customer)."""
    s = stack.settings
    url = f"http://127.0.0.1:{s.rasa_port}/conversations/{sender}/tracker?token={s.secrets['RASA_TOKEN']}"
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback
        tracker: dict[str, Any] = json.loads(resp.read())
    return [e for e in tracker["events"] if e.get("event") == "bot"]


def test_bot_ticket_in_rt_and_back(stack: Stack, rt: RTServer, connector: Child) -> None:
    chat = Chat(stack)
    chat.texts("Hallo, mir wurde mein Abo diesen Monat zweimal abgebucht")
    for answer in ("/feedback_not_helped", "Die Rechnung ist INV-2024-00123", "anna.becker@example.com", "nur mich",
                   "dringend"):
        chat.texts(answer)
    ref = reference_in(chat.texts("/affirm"))

    rt_id = wait_for(lambda: rt_tickets_for(rt, ref), 60, f"{ref} in RT")[0]
    ticket = rt_call(rt, "GET", f"/ticket/{rt_id}")
    assert ticket["Subject"].startswith(f"[{ref}] billing")
    assert [r["id"] for r in ticket["Requestor"]] == ["anna.becker@example.com"]
    assert rt_call(rt, "GET", f"/queue/{ticket['Queue']['id']}")["Name"] == "Billing"
    values = {cf["name"]: cf["values"] for cf in ticket["CustomFields"]}
    assert values["Category"] == ["billing"] and values["Frontdoor reference"] == [ref] and values["Tier"] == ["2"]
    history = rt_call(rt, "GET", f"/ticket/{rt_id}/history", params={"fields": "Type", "per_page": "100"})
    create = next(t for t in history["items"] if t["Type"] == "Create")
    text = next(p["Content"] for p in rt_call(rt, "GET", f"/transaction/{create['id']}/attachments",
                                             params={"fields": "Content"})["items"] if p.get("Content"))
    assert " writes in German via " in text.splitlines()[0]  # the pre-qualified summary first
    assert "INV-2024-00123" in text

    said = len(bot_events(stack, chat.sender))
    rt_call(rt, "POST", f"/ticket/{rt_id}/correspond", {"Content": "Ich habe die zweite Abbuchung erstattet.",
                                                        "ContentType": "text/plain"})
    wait_for(lambda: any("Ich habe die zweite Abbuchung erstattet." in (e.get("text") or "")
                         for e in bot_events(stack, chat.sender)[said:]), 60, "the RT reply in the customer's chat")

    def ours() -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{stack.settings.handoff_port}/api/v1/helpdesk/tickets/{ref}",
            headers={"Authorization": f"Bearer {stack.settings.secrets['HANDOFF_HELPDESK_TOKEN']}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
            return {}  # the API's "the ticket store is not reachable, try again shortly": the next poll

    wait_for(lambda: ours().get("helpdesk_id") == str(rt_id), 60, "RT's id on our ticket")
    rt_call(rt, "PUT", f"/ticket/{rt_id}", {"Queue": "Engineering"})
    wait_for(lambda: ours().get("queue") == "engineering", 60, "the escalation")

    said = len(bot_events(stack, chat.sender))
    rt_call(rt, "PUT", f"/ticket/{rt_id}", {"Status": "resolved"})
    wait_for(lambda: ours().get("status") == "resolved", 60, "the resolve")

    def rating_asked() -> bool:
        buttons = [b.get("payload", "") for e in bot_events(stack, chat.sender)[said:]
                   for b in (e.get("data") or {}).get("buttons") or []]
        return sum(p.startswith("/rate") for p in buttons) == 5

    wait_for(rating_asked, 60, "the 1-5 rating question in the chat")
    assert rt_tickets_for(rt, ref) == [rt_id]
