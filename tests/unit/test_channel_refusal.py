"""What the public chat channels refuse (rasa_ext/rest_channel.py), as the webhook fuzzing found it:
a payload with the whitespace Rasa strips in front of it, a page language that is not a text, and text
with a lone UTF-16 surrogate."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_ext.rest_channel import NOT_OFFERED, payload_allowed, refusal, request_problem

RATE = '/rate{"ticket_reference": "T-000001", "rating": 1}'


class FakeStore:
    def __init__(self, tracker: DialogueStateTracker | None) -> None:
        self.tracker = tracker

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return self.tracker


class FakeAgent:
    def __init__(self, tracker: DialogueStateTracker | None = None) -> None:
        self.tracker_store = FakeStore(tracker)


def offered(*payloads: str) -> DialogueStateTracker:
    buttons = [{"title": p, "payload": p} for p in payloads]
    return DialogueStateTracker.from_events("c", [ActionExecuted("action_listen"), UserUttered("hi"),
                                                  BotUttered("Did that help?", data={"buttons": buttons})])


@pytest.mark.parametrize("message", [RATE, f" {RATE}", f"\n{RATE}", f"\t{RATE} ", f"\u00a0{RATE}",
                                     "\u2003\u3000/agent_message", " /EXTERNAL_retry_ticket"])
async def test_a_payload_never_offered_is_refused_with_any_whitespace_around_it(message: str) -> None:
    # Rasa strips a message (UserMessage) before it reads "/intent{entities}" in it
    assert message.strip().startswith("/")
    assert not await payload_allowed(FakeAgent(), "fresh", message)
    assert not await payload_allowed(FakeAgent(offered("/feedback_helped")), "c", message)


@pytest.mark.parametrize("message", ["/feedback_helped", " /feedback_helped", "/feedback_helped\n", "hello",
                                     "a / b", " /session_greet"])
async def test_offered_buttons_plain_text_and_the_widget_opening_pass(message: str) -> None:
    assert await payload_allowed(FakeAgent(offered("/feedback_helped")), "c", message)


@pytest.mark.parametrize("language", [[], {}, ["de"], 1, None, "xx"])
async def test_a_page_language_that_is_not_one_of_ours_gets_the_english_refusal(language: Any) -> None:
    reply = await refusal(FakeAgent(), "fresh", RATE, {"language": language})
    assert reply == NOT_OFFERED["en"]
    assert "too long" in str(await refusal(FakeAgent(), "fresh", "x" * 4001, {"language": language}))


@pytest.mark.parametrize("body", [{"sender": "a", "message": "hallo \ud800"}, {"sender": "a\udfff", "message": "hi"},
                                  {"sender": "a", "message": "hi", "metadata": {"language": "\ud83d"}}])
def test_text_with_a_lone_surrogate_is_not_a_message(body: dict[str, Any]) -> None:
    # JSON parses "\ud800"; Rasa's NLU and lock store failed on it (503 "technical problem" replies)
    assert request_problem(body) == "the body contains text that is not valid Unicode (a lone surrogate)"
    assert request_problem({"sender": "a", "message": "hallo 😀 \u202e", "metadata": {"language": "de"}}) is None
