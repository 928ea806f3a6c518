"""The knowledge-base actions with the shipped knowledge base: what customers get for real questions
(answers, declines of other companies' matters, questions inside the form). These pin shipped content,
so they live with the KB suite, not with the unit tests."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.kb import ActionAnswerFromKb, ActionKbFeedback, KnowledgeBaseProvider
from actions.prequal import ValidateProblemForm
from bot.contract import CreateTicketRequest
from bot.kb.feedback import InMemoryFeedbackStore
from bot.kb.search import KnowledgeBase
from tests.actions_support import DOMAIN, ROOT, FakeHandoff, texts, tracker


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load(ROOT / "kb_articles", feedback=InMemoryFeedbackStore())


async def test_a_clear_question_is_answered_with_a_link_and_buttons(kb: KnowledgeBase) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), FakeHandoff()).run(
        dispatcher, tracker({"language": "en"}, text="how do I reset my password"), DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["kb_result"] == "answered" and slots["kb_article"] == "account-password-reset"
    assert slots["category"] == "account"
    answer = dispatcher.messages[-1]
    assert "/help/en/account-password-reset" in answer["text"]
    assert [b["payload"] for b in answer["buttons"]] == ["/feedback_helped", "/feedback_not_helped"]


async def test_nothing_fits_twice_in_a_row_offers_a_human(kb: KnowledgeBase) -> None:
    action, dispatcher = ActionAnswerFromKb(KnowledgeBaseProvider(kb), FakeHandoff()), CollectingDispatcher()
    first = await action.run(dispatcher, tracker({"language": "en"},
                                                 text="the stick makes a buzzing noise when it gets warm"), DOMAIN)
    assert {e["name"]: e["value"] for e in first if e.get("event") == "slot"}["kb_result"] == "none"
    second = await action.run(CollectingDispatcher(),
                              tracker({"language": "en", "failed_answers": 1.0}, text="can streamly add a karaoke mode"),
                              DOMAIN)
    slots = {e["name"]: e["value"] for e in second if e.get("event") == "slot"}
    assert slots["kb_result"] == "offer_human" and slots["frustrated"] is True


async def test_another_companys_question_is_declined_without_the_form(kb: KnowledgeBase) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), FakeHandoff()).run(
        dispatcher, tracker({"language": "en"}, text="how do I cook rice in a pressure cooker"), DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["kb_result"] == "declined" and "failed_answers" not in slots
    assert "only here for Streamly" in texts(dispatcher) and "I can help with" in texts(dispatcher)


@pytest.mark.parametrize(("text", "lang", "article"), [
    ("hvordan laver jeg en børneprofil til min datter på 7?", "da", "account-profiles"),  # a clear article
    ("what is the weather tomorrow in Aarhus", "en", None),  # nothing of ours: declined, no form
    ("wer hat die Fußball-WM 2014 gewonnen", "de", None),
    ("can streamly add a karaoke mode", "en", None),  # no article, not the form either (as a problem it is)
])
async def test_read_as_out_of_scope_an_article_answers_only_when_it_fits_clearly(
        kb: KnowledgeBase, text: str, lang: str, article: str | None) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFromKb(KnowledgeBaseProvider(kb), FakeHandoff()).run(
        dispatcher, tracker({"language": lang}, text=text, intent="out_of_scope"), DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    if article is None:
        assert slots["kb_result"] == "declined" and "/help/" not in texts(dispatcher)
    else:
        assert slots["kb_result"] == "answered" and slots["kb_article"] == article


async def test_did_not_help_is_recorded_and_lowers_the_article(kb: KnowledgeBase) -> None:
    query = "I see two payments for one month"
    before = kb.search(query, "en").hits[0]
    shown = [{"id": before.article.id, "lang": "en", "title": before.article.title, "feedback": "none"}]
    state = {"language": "en", "kb_article": before.article.id, "kb_query": query, "kb_articles_shown": shown}
    for _ in range(3):  # the same conversation three times counts once, and one vote moves nothing
        await ActionKbFeedback(KnowledgeBaseProvider(kb), FakeHandoff()).run(
            CollectingDispatcher(), tracker(state, intent="feedback_not_helped"), DOMAIN)
    assert kb.search(query, "en").hits[0].score == before.score
    assert kb.feedback_store is not None and kb.feedback_store.summary("en")[before.article.id].count == 1
    for i in range(6):  # six more conversations agree: the article comes lower
        await ActionKbFeedback(KnowledgeBaseProvider(kb), FakeHandoff()).run(
            CollectingDispatcher(), tracker(state, intent="feedback_not_helped", sender=f"conv-{i + 2}"), DOMAIN)
    after = next((h for h in kb.search(query, "en", k=5).hits if h.article.id == before.article.id), None)
    assert after is None or after.score < before.score


async def test_another_companys_matter_is_declined_by_name_until_the_customer_insists(kb: KnowledgeBase) -> None:
    action = ActionAnswerFromKb(KnowledgeBaseProvider(kb), FakeHandoff())
    first_text = "how do I cancel my Disney+ subscription"
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker({"language": "en"}, text=first_text), DOMAIN)
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["kb_result"] == "declined"
    assert "a question about Disney+" in texts(dispatcher) and "/help/" not in texts(dispatcher)
    declined = {"language": "en", "kb_result": "declined", "kb_query": first_text}
    # another company right after: declined again (no form, no article)
    other = CollectingDispatcher()
    events = await action.run(other, tracker(declined, text="and why did Danske Bank charge me a fee"), DOMAIN)
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["kb_result"] == "declined"
    assert "Danske Bank" in texts(other)
    # the same company again: the customer insists it is about us, so it is searched like any question
    again = CollectingDispatcher()
    events = await action.run(again, tracker(declined, text="no really, cancel my Disney+ subscription with you"),
                              DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["kb_result"] == "answered" and slots["kb_article"] == "subscription-cancel"


class EstimatingHandoff(FakeHandoff):
    async def estimate(self, request: CreateTicketRequest) -> dict[str, Any]:
        return {"queue": "shipping", "tier": 1, "priority": "P3", "expected_first_response_minutes": 480}


@pytest.mark.parametrize(("text", "kept"), [
    ("SO-302144 - wie lange dauert das eigentlich bis sich wer meldet?", "SO-302144"),
    ("wie lange dauert das eigentlich bis sich wer meldet?", None),
])
async def test_a_question_inside_the_form_is_answered_and_an_answer_with_it_is_kept(
        kb: KnowledgeBase, text: str, kept: str | None) -> None:
    from actions.digression import Digressions

    form = ValidateProblemForm(Digressions(KnowledgeBaseProvider(kb), EstimatingHandoff()))  # type: ignore[arg-type]
    events = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": text}]
    if kept:  # Rasa's form extracted the order number from the message: a slot candidate
        events.append({"event": "slot", "name": "order_number", "value": kept})
    state = {"language": "de", "requested_slot": "order_number", "category": "shipping",
             "description": "meine Bestellung soll an die neue Adresse"}
    dispatcher = CollectingDispatcher()
    out = await form.run(dispatcher, tracker(state, text=text, intent="ask_wait_time", events=events), DOMAIN)
    slots = {e["name"]: e["value"] for e in out if e.get("event") == "slot"}
    assert "8 Stunden" in texts(dispatcher)
    assert slots.get("order_number") == kept
    # asked again only when the answer is missing; else the form goes on to the next question
    assert (slots["requested_slot"] == "order_number") is (kept is None)


