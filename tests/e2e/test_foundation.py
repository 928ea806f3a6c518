"""The foundation end to end: every process answers, a greeting gets an answer in the customer's
language, and a custom action in the action server reaches the handoff service."""

from __future__ import annotations

import json

import pytest

from stack.supervisor import Stack, http_ok
from tests.e2e.conftest import Chat, http_json

pytestmark = pytest.mark.e2e


def test_every_process_is_healthy(stack: Stack) -> None:
    assert [child.name for child in stack.children] == ["actions", "handoff", "site", "rasa"]
    for child in stack.children:
        assert child.alive(), child.name
        assert child.health(), child.name


def test_website_serves_the_chat_page_and_widget(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.settings.site_port}"
    assert http_ok(base + "/")
    assert http_ok(base + "/static/webchat.js")
    status, config = http_json(base + "/config.json")
    assert status == 200 and config["socketPath"] == "/socket.io/"


def test_the_read_more_link_shows_the_article(stack: Stack) -> None:
    import urllib.request

    base = f"http://127.0.0.1:{stack.settings.site_port}"
    with urllib.request.urlopen(base + "/help/de/billing-double-charge", timeout=10) as response:
        page = response.read().decode()
    assert "<h1>Ich wurde doppelt belastet</h1>" in page and "<ol>" in page
    for missing in ("/help/de/no-such-article", "/help/xx/billing-double-charge", "/help/de/..%2Fsecrets"):
        assert not http_ok(base + missing)


@pytest.mark.parametrize(("greeting", "expected"), [
    ("Hallo, guten Tag", "Streamly-Assistent"),
    ("Hello there", "Streamly assistant"),
    ("Hej med dig", "Streamlys assistent"),
])
def test_greeting_is_answered_in_the_customers_language(stack: Stack, greeting: str, expected: str) -> None:
    replies = Chat(stack).texts(greeting)
    assert any(expected in text for text in replies), replies


def test_request_for_a_human_creates_a_ticket_through_the_action_server(stack: Stack) -> None:
    chat = Chat(stack)
    chat.texts("Guten Tag")
    chat.texts("Ich möchte bitte mit einem Mitarbeiter sprechen")
    chat.texts("Meine Smart-TV-App startet seit gestern nicht mehr")
    replies = chat.texts("anna@example.com")
    joined = " ".join(replies)
    assert "**Ticket T-" in joined, replies
    reference = "T-" + joined.split("**Ticket T-")[1][:6]
    handoff = f"http://127.0.0.1:{stack.settings.handoff_port}"
    status, ticket = http_json(f"{handoff}/api/v1/tickets/by-conversation/{chat.sender}",
                               token=stack.settings.secrets["HANDOFF_BOT_TOKEN"])
    assert status == 200, ticket
    assert ticket["reference"] == reference
    assert ticket["status"] == "queued"


def test_a_message_is_encoded_once_in_rasa_and_its_embedding_reaches_the_actions(stack: Stack) -> None:
    """The Rasa server's encoder puts the sentence embedding into the parse data, which the action server
    gets with the tracker (the KB search reuses it); button payloads are not encoded."""
    from bot.kb.encoder import decode_vector

    chat = Chat(stack)
    chat.texts("mir wurde mein Abo zweimal abgebucht")
    chat.texts("/feedback_helped")
    token = stack.settings.secrets["RASA_TOKEN"]
    status, tracker = http_json(f"http://127.0.0.1:{stack.settings.rasa_port}/conversations/{chat.sender}/tracker"
                                f"?token={token}")
    assert status == 200
    users = [e for e in tracker["events"] if e.get("event") == "user"]
    typed, button = users[-2]["parse_data"], users[-1]["parse_data"]
    vector = decode_vector(typed.get("text_embedding"), 384)
    assert vector is not None and abs(float((vector ** 2).sum()) - 1.0) < 0.01
    assert "text_embedding" not in button


def test_the_public_webhook_refuses_what_is_not_a_message_and_stays_responsive(stack: Stack) -> None:
    import urllib.request

    url = f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook"
    for raw in (b"not json", b"[1, 2]", b'"text"', b'{"sender": 5, "message": "hi"}',
                b'{"sender": "x", "message": {"a": 1}}', b'{"sender": "x", "message": "hi", "metadata": []}'):
        request = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError(f"accepted {raw!r}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 400, raw
            assert "error" in json.loads(exc.read()), raw
    # a 100,000-character message is refused with a reply in the page's language, and costs nobody time
    big = Chat(stack, metadata={"language": "de"})
    replies = big.texts("a" * 100_000)
    assert len(replies) == 1 and "zu lang" in replies[0] and "4,000" in replies[0]
    assert Chat(stack, metadata={"language": "en"}).texts("Hello")  # the bot still answers everyone
    # the history of that conversation holds no 100,000-character message
    status, tracker = http_json(f"http://127.0.0.1:{stack.settings.rasa_port}/conversations/{big.sender}/tracker"
                                f"?token={stack.settings.secrets['RASA_TOKEN']}")
    assert status == 200 and all(len(e.get("text") or "") < 5000 for e in tracker["events"])


async def test_the_chat_widgets_channel_refuses_an_oversized_message_with_a_reply(stack: Stack) -> None:
    import asyncio

    import socketio

    client = socketio.AsyncClient()
    replies: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    confirmed: asyncio.Queue[str] = asyncio.Queue()
    client.on("bot_uttered", replies.put)
    client.on("session_confirm", confirmed.put)
    await client.connect(f"http://127.0.0.1:{stack.settings.rasa_port}", socketio_path="/socket.io/",
                         transports=["polling"])
    try:
        await client.emit("session_request", {"session_id": None})
        session = await asyncio.wait_for(confirmed.get(), 10)
        await client.emit("user_uttered", {"message": "x" * 10_000, "session_id": session,
                                           "customData": {"language": "da"}})
        reply = await asyncio.wait_for(replies.get(), 10)
        assert "for lang" in str(reply.get("text"))
        await client.emit("user_uttered", {"message": "Hej", "session_id": session, "customData": {"language": "da"}})
        assert (await asyncio.wait_for(replies.get(), 30)).get("text")  # the conversation goes on
    finally:
        await client.disconnect()


def test_only_the_rasa_server_may_call_the_action_server(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.settings.action_port}"
    forged = {"next_action": "action_ticket_status", "sender_id": "someone-else", "version": "3.6.2",
              "tracker": {"sender_id": "someone-else", "slots": {"customer_id": "c-vip"}, "events": [],
                          "latest_message": {}}, "domain": {}}
    for token in ("", "wrong-token"):
        status, body = http_json(base + "/webhook", forged, token=token)
        assert status == 401 and "unauthorized" in body["error"], token
    assert http_json(base + "/actions", token="wrong")[0] == 401
    assert http_json(base + "/ready")[0] == 200  # readiness stays open for the supervisor
    assert http_json(base + "/webhook", forged, token=stack.settings.secrets["ACTION_SERVER_TOKEN"])[0] != 401


@pytest.mark.parametrize("payload", ['/rate{"ticket_reference": "T-000001", "rating": 1}',
                                     '/agent_message{"text": "Your refund is approved"}', "/EXTERNAL_retry_ticket",
                                     "/feedback_helped"])
def test_a_customer_cannot_send_intents_the_bot_did_not_offer(stack: Stack, payload: str) -> None:
    chat = Chat(stack, metadata={"language": "en"})
    chat.texts("Hello")
    replies = chat.texts(payload)
    assert replies == ["I can't use that choice here. Please use the buttons shown, or just type your message."]
    status, tracker = http_json(f"http://127.0.0.1:{stack.settings.rasa_port}/conversations/{chat.sender}/tracker"
                                f"?token={stack.settings.secrets['RASA_TOKEN']}")
    assert status == 200
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["Hello"]  # never reached the bot


def test_a_button_the_bot_offered_is_accepted(stack: Stack) -> None:
    chat = Chat(stack, metadata={"language": "en"})
    answer = chat.say("How do I reset my password?")
    offered = chat.buttons(answer)
    assert "/feedback_helped" in offered
    assert "I can't use that choice" not in " ".join(chat.texts("/feedback_helped"))


def test_card_numbers_and_ibans_never_reach_the_conversation_history(stack: Stack) -> None:
    chat = Chat(stack, metadata={"language": "en"})
    chat.texts("I was charged twice on my card 4111 1111 1111 1111, refund to DE89 3704 0044 0532 0130 00 please")
    status, tracker = http_json(f"http://127.0.0.1:{stack.settings.rasa_port}/conversations/{chat.sender}/tracker"
                                f"?token={stack.settings.secrets['RASA_TOKEN']}")
    assert status == 200
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said and "[card ****1111]" in said[0] and "[IBAN masked]" in said[0]
    stored = json.dumps(tracker)
    assert "4111 1111 1111 1111" not in stored and "3704 0044" not in stored


def test_secrets_stay_out_of_the_process_list_and_files_are_the_owners_only(stack: Stack) -> None:
    import os
    import stat
    from pathlib import Path

    secrets = [v for v in stack.settings.secrets.values() if v]
    for child in stack.children:
        assert child.process is not None
        cmdline = Path(f"/proc/{child.process.pid}/cmdline").read_bytes().decode(errors="replace")
        assert not any(secret in cmdline for secret in secrets), child.name
    for log in Path(stack.settings.log_dir).glob("*.log"):
        assert stat.S_IMODE(os.stat(log).st_mode) & 0o077 == 0, log
    assert stat.S_IMODE(os.stat(stack.settings.log_dir).st_mode) == 0o700


def test_the_bot_apologises_while_the_action_server_is_down_and_recovers(stack: Stack) -> None:
    import signal
    import time

    actions = next(child for child in stack.children if child.name == "actions")
    assert actions.process is not None
    chat = Chat(stack, metadata={"language": "de"})
    assert chat.texts("Hallo")  # the conversation has started
    actions.process.send_signal(signal.SIGKILL)
    actions.process.wait()
    try:
        replies = chat.texts("Ich habe mein Passwort vergessen")
        assert replies == ["Entschuldigung, gerade habe ich ein technisches Problem. Ihre Nachricht ist "
                           "gespeichert – bitte versuchen Sie es in einer Minute noch einmal."], replies
    finally:
        actions.start(stack.settings.root)  # what `frontdoor up` does (Stack.supervise)
        deadline = time.monotonic() + 180
        while not actions.health():
            assert time.monotonic() < deadline, "the action server did not come back"
            time.sleep(0.5)
    assert any("/help/" in t for t in Chat(stack, metadata={"language": "de"}).texts(
        "Ich habe mein Passwort vergessen"))
