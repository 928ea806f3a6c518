"""No ticket and no promise is lost when parts of the stack crash: a customer whose ticket was parked
while the handoff service was down gets the reference in the chat, even when Rasa (which keeps its retry
reminders in memory only) restarted meanwhile."""

from __future__ import annotations

import signal
import time
import urllib.parse

import pytest

from stack.embedded_redis import EmbeddedRedis
from rasa_ext.degrade import UNPROCESSED
from stack.supervisor import Child, Stack
from tests.e2e.conftest import Chat, http_json

pytestmark = pytest.mark.e2e


def _child(stack: Stack, name: str) -> Child:
    return next(child for child in stack.children if child.name == name)


def _kill(child: Child) -> None:
    assert child.process is not None and child.alive(), child.name
    child.process.send_signal(signal.SIGKILL)
    child.process.wait()


def _restart(stack: Stack, child: Child, timeout: float = 240.0) -> None:
    child.start(stack.settings.root)  # what `frontdoor up` does (Stack.supervise)
    deadline = time.monotonic() + timeout
    while not child.health():
        assert child.alive(), f"{child.name} exited again:\n{child.log_tail()}"
        assert time.monotonic() < deadline, f"{child.name} did not come back"
        time.sleep(0.5)


def _bot_texts(stack: Stack, sender: str) -> list[str]:
    s = stack.settings
    url = (f"http://127.0.0.1:{s.rasa_port}/conversations/{urllib.parse.quote(sender)}/tracker"
           f"?token={s.secrets['RASA_TOKEN']}")
    status, tracker = http_json(url)
    assert status == 200, tracker
    return [e.get("text") or "" for e in tracker["events"] if e.get("event") == "bot"]


def test_a_parked_ticket_reaches_the_customer_after_handoff_and_rasa_restarted(stack: Stack) -> None:
    handoff, rasa = _child(stack, "handoff"), _child(stack, "rasa")
    chat = Chat(stack, metadata={"language": "de"})
    chat.texts("Guten Tag")
    _kill(handoff)
    try:
        chat.texts("Ich möchte bitte mit einem Mitarbeiter sprechen")
        chat.texts("Meine Smart-TV-App startet seit gestern nicht mehr")
        replies = " ".join(chat.texts("anna@example.com"))
        assert "Ticketnummer" in replies and "**Ticket T-" not in replies, replies  # parked, promised
        _kill(rasa)  # its retry reminder is gone with it
    finally:
        if not handoff.alive():
            _restart(stack, handoff)  # drains the outbox: the ticket exists now; Rasa is still down
    status, ticket = http_json(f"http://127.0.0.1:{stack.settings.handoff_port}/api/v1/tickets/by-conversation/"
                               f"{chat.sender}", token=stack.settings.secrets["HANDOFF_BOT_TOKEN"])
    deadline = time.monotonic() + 30
    while status != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        status, ticket = http_json(f"http://127.0.0.1:{stack.settings.handoff_port}/api/v1/tickets/by-conversation/"
                                   f"{chat.sender}", token=stack.settings.secrets["HANDOFF_BOT_TOKEN"])
    assert status == 200, ticket
    _restart(stack, rasa)
    deadline = time.monotonic() + 60
    while not any(f"**Ticket {ticket['reference']}**" in t for t in _bot_texts(stack, chat.sender)):
        assert time.monotonic() < deadline, _bot_texts(stack, chat.sender)[-3:]
        time.sleep(1.0)
    # told once, and the conversation goes on normally
    assert sum(ticket["reference"] in t for t in _bot_texts(stack, chat.sender)) == 1
    assert chat.texts("Danke!")


def test_while_redis_is_down_a_message_is_refused_with_a_reason_and_the_context_survives(
        stack: Stack, redis_server: EmbeddedRedis | None) -> None:
    if redis_server is None or redis_server.process is None:
        pytest.skip("the session's Redis is external (REDIS_URL): it cannot be stopped here")
    chat = Chat(stack, metadata={"language": "de"})
    chat.texts("Guten Tag")
    chat.texts("Ich möchte bitte mit einem Mitarbeiter sprechen")
    asked = " ".join(chat.texts("Meine Smart-TV-App startet seit gestern nicht mehr"))
    assert "E-Mail" in asked, asked  # the form waits for the address
    redis_server.process.kill()
    redis_server.process.wait()
    try:
        status, replies = http_json(chat.url, {"sender": chat.sender, "message": "anna@example.com",
                                               "metadata": {"language": "de"}})
        assert status == 503, (status, replies)
        assert [r["text"] for r in replies] == [UNPROCESSED["de"]]
    finally:
        redis_server.start()  # from its append-only file, as the supervisor does
    deadline = time.monotonic() + 30
    while True:  # the clients reconnect on their own
        status, replies = http_json(chat.url, {"sender": chat.sender, "message": "anna@example.com",
                                               "metadata": {"language": "de"}})
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    joined = " ".join(r.get("text", "") for r in replies)
    assert status == 200 and "**Ticket T-" in joined, (status, joined)  # the form went on where it was
