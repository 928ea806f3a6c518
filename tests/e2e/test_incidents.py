"""Incidents on the real stack (Rasa, action server, handoff service with its detector, Redis): a burst of
matching tickets opens one incident; the next customers with that problem hear about it in their language
and are linked; a different problem is not swallowed; a customer who says it is another problem is
unlinked and helped; resolving tells every linked conversation in its language and resolves the tickets."""

from __future__ import annotations

import random
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from stack.supervisor import Stack
from tests.e2e.conftest import Chat, agent_token, handoff_get, http_json, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def incident_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(redis_url, tmp_path_factory.mktemp("var-incidents"),
                          {"HANDOFF_INCIDENT_DETECTION": "1", "HANDOFF_INCIDENT_NOTIFY_INTERVAL": "1"})
    yield running
    running.stop()


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def bot_texts(stack: Stack, sender: str) -> list[str]:
    s = stack.settings
    status, tracker = http_json(f"http://127.0.0.1:{s.rasa_port}/conversations/{urllib.parse.quote(sender)}/tracker"
                                f"?token={s.secrets['RASA_TOKEN']}")
    assert status == 200, tracker
    return [e.get("text") or "" for e in tracker["events"] if e.get("event") == "bot"]


def test_a_burst_becomes_one_incident_the_next_customers_are_told_and_the_fix_reaches_them(
        incident_stack: Stack) -> None:
    stack = incident_stack
    base = f"http://127.0.0.1:{stack.settings.handoff_port}"
    lead = agent_token(stack)
    code = f"E-7{random.randint(100, 999)}"
    refs = []
    for i, (lang, text) in enumerate([("de", f"Der Stick zeigt {code}"), ("en", f"Stick shows {code}"),
                                      ("da", f"Sticken viser {code}"), ("de", f"{code} auf dem Stick"),
                                      ("en", f"error {code} on my stick")]):
        status, created = http_json(base + "/api/v1/tickets", {
            "conversation_id": f"burst-{code}-{i}", "channel": "rest", "language": lang, "category": "technical",
            "product": "Streamly Stick", "error_code": code, "description": text,
            "customer": {"email": f"burst{i}@example.com"}}, token=stack.settings.secrets["HANDOFF_BOT_TOKEN"])
        assert status == 201, created
        refs.append(created["reference"])

    def incidents() -> list[dict[str, Any]]:
        status, body = handoff_get(stack, "/api/v1/agent/incidents?status=all", token=lead)
        assert status == 200, body
        return [i for i in body["incidents"] if i["error_code"] == code]

    found = wait_for(incidents, 30, "the detector opening an incident")
    assert len(found) == 1 and found[0]["reports"] == 5 and found[0]["status"] == "open"
    incident_id = found[0]["id"]

    # a German customer with the same problem is told right away, in German, and linked
    german = Chat(stack, metadata={"language": "de"})
    said = " ".join(german.texts(f"Mein Streamly Stick zeigt seit einer Stunde den Fehler {code} und spielt nichts ab"))
    assert "bekanntes Problem" in said and code in said, said
    # a Danish customer with another problem gets the article, and is not linked
    danish = Chat(stack, metadata={"language": "da"})
    said = " ".join(danish.texts("Hvordan nulstiller jeg min adgangskode?"))
    assert "/help/da/account-password-reset" in said and "kendt problem" not in said, said
    # an English customer told of it says it is another problem: unlinked, and helped as usual
    english = Chat(stack, metadata={"language": "en"})
    replies = english.say(f"the Streamly Stick shows {code} when I open the menu")
    assert "known problem" in " ".join(r.get("text", "") for r in replies)
    assert "/incident_not_mine" in english.buttons(replies)
    english.texts("/incident_not_mine")

    status, detail = handoff_get(stack, f"/api/v1/agent/incidents/{incident_id}", token=lead)
    assert status == 200 and detail["conversations_by_how"] == {"report": 5, "told": 1}, detail
    assert detail["conversations_by_language"] == {"de": 3, "en": 2, "da": 1}
    assert sorted(t["reference"] for t in detail["tickets"]) == sorted(refs)

    # the lead resolves it: every linked conversation is told, in its language; the tickets are resolved
    status, result = http_json(base + f"/api/v1/lead/incidents/{incident_id}/resolve",
                               {"message": {"de": "Ein Update wurde eingespielt.", "en": "An update fixed it."}},
                               token=lead)
    assert status == 200 and result["conversations_to_tell"] == 6, result
    told = wait_for(lambda: [t for t in bot_texts(stack, german.sender) if "Gute Nachricht" in t], 30,
                    "the German customer told of the fix")
    assert code in told[0] and "Ein Update wurde eingespielt." in told[0]
    for i in range(5):
        wait_for(lambda i=i: any(("Gute Nachricht" in t or "Good news" in t or "Godt nyt" in t)
                                 for t in bot_texts(stack, f"burst-{code}-{i}")), 30, f"ticket conversation {i} told")
    assert not any("Good news" in t for t in bot_texts(stack, english.sender))  # unlinked: not told
    for ref in refs:
        status, ticket = handoff_get(stack, f"/api/v1/agent/tickets/{ref}", token=lead)
        assert ticket["status"] == "resolved" and ticket["incident"] == incident_id
    status, events = handoff_get(stack, "/api/v1/agent/incidents?status=resolved", token=lead)
    assert any(i["id"] == incident_id for i in events["incidents"])
