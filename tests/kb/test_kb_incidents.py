"""The bot and a known problem (an open incident of the handoff service), with the shipped knowledge base:
a matching customer is told in their language and linked (no article, no ticket), a different problem is
answered as usual, "my problem is a different one" unlinks and answers, a "did not help" to the article the
incident is about is told too, a customer told before who still wants a person gets a ticket, "is it fixed?"
gets the incident's status, the fix is announced with the lead's text in the customer's language; and what
the bot reports to the handoff service (signals)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionCreateTicket, ActionTicketStatus
from actions.incidents import ActionIncidentResolved
from actions.kb import ActionAnswerFromKb, ActionKbFeedback, KnowledgeBaseProvider
from actions.signals import Signals
from bot.kb.feedback import InMemoryFeedbackStore
from bot.kb.search import KnowledgeBase
from tests.actions_support import DOMAIN, ROOT, FakeHandoff, texts, tracker

STICK_DOWN = {"id": "I-000007", "title": "Error E-2002 (Streamly Stick)", "status": "open",
              "keys": ["error:E-2002", "product:technical:streamly stick"]}
PAYMENTS = {"id": "I-000008", "title": "Article billing-double-charge does not help", "status": "confirmed",
            "keys": ["article:billing-double-charge"]}


class FakeOutbox:
    async def park(self, request: Any) -> bool:
        return True

    async def clear(self, conversation_id: str) -> None:
        return None


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load(ROOT / "kb_articles", feedback=InMemoryFeedbackStore())


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.mark.parametrize(("lang", "text", "said"), [
    ("de", "Mein Fernseher zeigt Fehler E-2002 und nichts spielt", "bekanntes Problem"),
    ("en", "my tv keeps showing error E-2002, nothing plays", "known problem"),
    ("da", "Mit tv viser fejl E-2002 og intet afspilles", "kendt problem"),
])
async def test_a_customer_with_the_known_problem_is_told_and_linked(kb: KnowledgeBase, lang: str, text: str,
                                                                    said: str) -> None:
    client, dispatcher = FakeHandoff(incidents=[STICK_DOWN]), CollectingDispatcher()
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), client).run(
        dispatcher, tracker({"language": lang}, text=text, entities=[{"entity": "error_code", "value": "E-2002"}],
                            sender=f"stick-{lang}"), DOMAIN)
    slots = slots_of(events)
    assert slots["kb_result"] == "incident" and slots["incident"] == "I-000007" and slots["incident_what"] == "E-2002"
    assert client.linked == [("I-000007", f"stick-{lang}", lang, "")]
    assert said in texts(dispatcher) and "E-2002" in texts(dispatcher) and "/help/" not in texts(dispatcher)
    assert dispatcher.messages[-1]["buttons"][0]["payload"] == "/incident_not_mine"


async def test_a_different_problem_is_not_swallowed(kb: KnowledgeBase) -> None:
    client, dispatcher = FakeHandoff(incidents=[STICK_DOWN, PAYMENTS]), CollectingDispatcher()
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), client).run(
        dispatcher, tracker({"language": "en"}, text="how do I reset my password"), DOMAIN)
    assert slots_of(events)["kb_result"] == "answered" and client.linked == []
    assert "/help/en/account-password-reset" in texts(dispatcher)


async def test_the_article_of_a_known_problem_is_not_offered_again(kb: KnowledgeBase) -> None:
    """The incident is "this article does not help right now": a customer whose question it answers is told."""
    client, dispatcher = FakeHandoff(incidents=[PAYMENTS]), CollectingDispatcher()
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), client).run(
        dispatcher, tracker({"language": "en"}, text="I was charged twice for my subscription this month"), DOMAIN)
    assert slots_of(events)["kb_result"] == "incident" and client.linked[0][0] == "I-000008"
    assert "known problem" in texts(dispatcher)


async def test_not_my_problem_unlinks_and_answers_the_question(kb: KnowledgeBase) -> None:
    client, dispatcher = FakeHandoff(incidents=[PAYMENTS]), CollectingDispatcher()
    state = {"language": "en", "incident": "I-000008", "incident_what": "x", "kb_result": "incident",
             "kb_query": "I was charged twice for my subscription this month"}
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), client).run(
        dispatcher, tracker(state, text="/incident_not_mine", intent="incident_not_mine"), DOMAIN)
    slots = slots_of(events)
    assert client.unlinked == [("I-000008", "conv-1")] and slots["incident_declined"] == "I-000008"
    assert slots["incident"] is None and slots["kb_result"] == "answered"
    assert "/help/en/billing-double-charge" in texts(dispatcher) and client.linked == []
    # and it is not matched again in this conversation
    again = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), client).run(
        CollectingDispatcher(), tracker({"language": "en", "incident_declined": "I-000008"},
                                        text="I see two payments for one month"), DOMAIN)
    assert slots_of(again)["kb_result"] == "answered"


async def test_did_not_help_to_the_article_of_a_known_problem_is_told(kb: KnowledgeBase) -> None:
    client, dispatcher = FakeHandoff(incidents=[PAYMENTS]), CollectingDispatcher()
    shown = [{"id": "billing-double-charge", "lang": "de", "title": "x", "category": "billing", "feedback": "none"}]
    state = {"language": "de", "kb_article": "billing-double-charge", "kb_query": "zweimal abgebucht",
             "kb_articles_shown": shown, "kb_result": "answered"}
    events = await ActionKbFeedback(KnowledgeBaseProvider(kb), client).run(
        dispatcher, tracker(state, intent="feedback_not_helped", text="/feedback_not_helped"), DOMAIN)
    assert slots_of(events)["kb_result"] == "incident" and "bekanntes Problem" in texts(dispatcher)


async def test_the_form_ends_in_the_known_problem_not_a_ticket_unless_the_customer_insists() -> None:
    client, outbox = FakeHandoff(incidents=[STICK_DOWN]), FakeOutbox()
    state = {"language": "da", "description": "stick viser fejl", "category": "technical",
             "product": "Streamly Stick", "error_code": "E-2002"}
    dispatcher = CollectingDispatcher()
    events = await ActionCreateTicket(client, outbox).run(dispatcher, tracker(state, intent="affirm"), DOMAIN)
    assert client.created == [] and slots_of(events)["incident"] == "I-000007"
    assert "kendt problem" in texts(dispatcher)
    told = {**state, "incident": "I-000007"}  # told already, still asks for a person: the ticket
    await ActionCreateTicket(client, outbox).run(CollectingDispatcher(), tracker(told, intent="affirm"), DOMAIN)
    assert len(client.created) == 1


async def test_is_it_fixed_gets_the_incidents_status() -> None:
    client = FakeHandoff(incidents=[dict(STICK_DOWN)])
    dispatcher = CollectingDispatcher()
    state = {"language": "en", "incident": "I-000007", "incident_what": "E-2002"}
    await ActionTicketStatus(client).run(dispatcher, tracker(state, text="is it fixed yet?", intent="ticket_status"),
                                         DOMAIN)
    assert "still working on the known problem (E-2002)" in texts(dispatcher)
    client.incidents[0]["status"] = "resolved"
    dispatcher = CollectingDispatcher()
    await ActionTicketStatus(client).run(dispatcher, tracker(state, text="fixed?", intent="ticket_status"), DOMAIN)
    assert "has been fixed" in texts(dispatcher)


@pytest.mark.parametrize(("lang", "message", "expected"), [
    ("de", "Ein Update ist eingespielt.", "Gute Nachricht: Das bekannte Problem (E-2002) ist behoben. Ein Update"),
    ("da", "", "Godt nyt: Det kendte problem (E-2002) er løst. Prøv"),
])
async def test_the_fix_is_announced_in_the_customers_language(lang: str, message: str, expected: str) -> None:
    entities = [{"entity": "incident", "value": "I-000007"}, {"entity": "incident_title", "value": "Stick"},
                {"entity": "incident_message", "value": message}, {"entity": "reference", "value": ""}]
    dispatcher = CollectingDispatcher()
    events = await ActionIncidentResolved().run(
        dispatcher, tracker({"language": lang, "incident": "I-000007", "incident_what": "E-2002"},
                            intent="incident_resolved", entities=entities), DOMAIN)
    assert texts(dispatcher).startswith(expected)
    assert slots_of(events)["incident"] is None


async def test_what_the_bot_did_is_reported(kb: KnowledgeBase) -> None:
    client = FakeHandoff()
    action = ActionAnswerFromKb(KnowledgeBaseProvider(kb), client)
    await action.run(CollectingDispatcher(), tracker({"language": "en"}, text="how do I reset my password",
                                                     sender="s-1"), DOMAIN)
    await action.run(CollectingDispatcher(), tracker({"language": "en"}, sender="s-2",
                                                     text="the stick makes a buzzing noise when it gets warm"), DOMAIN)
    shown = [{"id": "account-password-reset", "lang": "en", "title": "x", "category": "account", "feedback": "none"}]
    await ActionKbFeedback(KnowledgeBaseProvider(kb), client).run(
        CollectingDispatcher(), tracker({"language": "en", "kb_article": "account-password-reset", "kb_query": "reset",
                                         "kb_articles_shown": shown}, intent="feedback_not_helped", sender="s-1"),
        DOMAIN)
    await Signals.drain()
    kinds = [(s["type"], s["conversation_id"]) for s in client.sent_signals]
    assert kinds == [("kb_answered", "s-1"), ("kb_no_answer", "s-2"), ("kb_feedback", "s-1")]
    answered, unanswered, vote = client.sent_signals
    assert answered["article_id"] == "account-password-reset" and answered["category"] == "account"
    assert unanswered["text"].startswith("the stick makes") and unanswered["language"] == "en"
    assert vote["helped"] is False and vote["article_id"] == "account-password-reset"
    down = FakeHandoff(fail=True)  # the handoff service down: the customer is answered all the same
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), down).run(
        CollectingDispatcher(), tracker({"language": "en"}, text="how do I reset my password"), DOMAIN)
    await Signals.drain()
    assert slots_of(events)["kb_result"] == "answered"


async def test_the_question_of_a_did_not_help_is_embedded_for_the_kb_gaps(dense: dict[str, Any]) -> None:
    """The vote refers to an earlier question: its embedding is computed when the signal is sent."""
    from types import SimpleNamespace

    from actions.kb import embedder
    from bot.kb.encoder import decode_vector

    vector = decode_vector(await embedder(SimpleNamespace(encoder=dense["encoder"]), "I was charged twice")(), 384)
    assert vector is not None and abs(float((vector ** 2).sum()) - 1.0) < 0.01
    assert await embedder(SimpleNamespace(encoder=None), "x")() is None


async def test_typed_another_problem_unlinks_and_searches_what_they_typed(kb: KnowledgeBase) -> None:
    client, dispatcher = FakeHandoff(incidents=[STICK_DOWN]), CollectingDispatcher()
    state = {"language": "en", "incident": "I-000007", "incident_what": "Streamly Stick", "kb_result": "incident",
             "kb_query": "my stick is acting up", "product": "Streamly Stick"}
    text = "no, my problem is a different one: the remote of the stick does not pair anymore, the light blinks"
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), client).run(
        dispatcher, tracker(state, text=text, intent="describe_problem"), DOMAIN)
    slots = slots_of(events)
    assert client.unlinked == [("I-000007", "conv-1")] and slots["incident_declined"] == "I-000007"
    assert slots["kb_result"] == "answered" and "/help/en/tech-stick-remote" in texts(dispatcher)
    short = CollectingDispatcher()  # "something else" and nothing more: asked what it is
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), FakeHandoff(incidents=[STICK_DOWN])).run(
        short, tracker({**state}, text="nope, something else", intent="deny"), DOMAIN)
    assert slots_of(events)["kb_result"] == "unclear" and "describe" in texts(short)


async def test_a_known_problem_after_an_unrelated_ticket_is_told_and_the_ticket_stays_out(kb: KnowledgeBase) -> None:
    from actions.handoff import ActionTicketFollowup

    client, dispatcher = FakeHandoff(incidents=[STICK_DOWN]), CollectingDispatcher()
    state = {"language": "de", "ticket_open": True, "ticket_reference": "T-000002", "category": "billing",
             "kb_result": "answered"}
    text = "achso und noch was ganz anderes, mein Stick zeigt seit heute Mittag nur noch den Fehler E-2002"
    code = [{"entity": "error_code", "value": "E-2002"}]
    events = await ActionTicketFollowup(client).run(dispatcher, tracker(state, text=text, entities=code), DOMAIN)
    assert slots_of(events).get("incident") == "I-000007" and "bekanntes Problem" in texts(dispatcher)
    assert client.linked == [("I-000007", "conv-1", "de", "")]  # the billing ticket is not its child
    # a ticket about the same problem joins the incident
    same = {**state, "category": "technical", "error_code": "E-2002"}
    linked = FakeHandoff(incidents=[STICK_DOWN])
    await ActionTicketFollowup(linked).run(CollectingDispatcher(), tracker(same, text=text, entities=code), DOMAIN)
    assert linked.linked == [("I-000007", "conv-1", "de", "T-000002")]


async def test_right_after_the_known_problem_is_it_working_again_is_about_it() -> None:
    client = FakeHandoff(incidents=[dict(STICK_DOWN)])
    state = {"language": "de", "incident": "I-000007", "incident_what": "Streamly Stick", "kb_result": "incident",
             "ticket_open": True, "ticket_reference": "T-000001", "customer_verified": False}
    dispatcher = CollectingDispatcher()
    await ActionTicketStatus(client).run(dispatcher, tracker(state, text="und, läuft das jetzt wieder??",
                                                             intent="ticket_status"), DOMAIN)
    assert "Streamly Stick" in texts(dispatcher) and "T-000001" not in texts(dispatcher)

    class WithTicket(FakeHandoff):
        async def ticket_for_conversation(self, conversation_id: str) -> Any:
            return {"reference": "T-000001", "status": "queued", "queue": "billing", "priority": "P3",
                    "queue_position": 1, "expected_wait_minutes": 30, "agent_replies": [], "updated_at": 0.0}

    ticket = CollectingDispatcher()  # the ticket named: its status
    await ActionTicketStatus(WithTicket(incidents=[dict(STICK_DOWN)])).run(
        ticket, tracker(state, text="und wie ist der Stand meines Tickets?", intent="ticket_status"), DOMAIN)
    assert "T-000001" in texts(ticket) and "arbeitet noch" not in texts(ticket)
