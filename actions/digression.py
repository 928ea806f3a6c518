"""A customer who asks something instead of answering the form's question.

"How long will this take?", "where do I find the order number?", "is there an outage?", "how do I cancel
my subscription?": the bot answers briefly (the promised first response from the handoff service, where
to find the detail, the help article), records what it showed, and the form asks its question again.
A question nobody can answer here is added to the request for the team, never dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.customer import language_of
from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable, UsesHandoff
from actions.kb import KnowledgeBaseProvider, article_url, message_vector, show_article, shown_entry
from actions.respond import utter
from actions.texts import queue_label
from bot.dialogue import is_question
from bot.kb.search import Hit, SearchResult

logger = logging.getLogger(__name__)

# fields whose answers have a shape (a question is never one); free-text fields take questions as answers
# unless the knowledge base clearly answers them
STRUCTURED = frozenset({"category", "error_code", "order_number", "invoice_number", "contact_email", "impact",
                        "urgency"})
# where to find a detail; the choice fields get one hint for all of them
HELP_RESPONSES = {"order_number": "utter_help_order_number", "invoice_number": "utter_help_invoice_number",
                  "error_code": "utter_help_error_code", "contact_email": "utter_help_contact_email",
                  "product": "utter_help_product", "category": "utter_help_choice", "impact": "utter_help_choice",
                  "urgency": "utter_help_choice"}
QUESTION_INTENTS = {"ask_wait_time": "wait", "ticket_status": "wait"}


def latest_text(tracker: Tracker) -> str:
    text = str((tracker.latest_message or {}).get("text") or "")
    return "" if text.startswith("/") else text


def digression_kind(tracker: Tracker, requested: str, valid_answer: bool) -> str | None:
    """"wait", "help" or "question" when the latest message asks something instead of answering
    ``requested``; None when it is (or may be) the answer. ``valid_answer``: the text would pass the
    field's validation."""
    text = latest_text(tracker)
    if not text or valid_answer:
        return None
    intent = (tracker.latest_message or {}).get("intent") or {}
    kind = QUESTION_INTENTS.get(str(intent.get("name")))
    if kind and float(intent.get("confidence") or 0) >= 0.5:
        return kind
    if requested == "description" or not is_question(text):
        return None
    return "question"


class Digressions(UsesHandoff):
    """Answers a digression; dependencies come in with lazy defaults like the actions' own."""

    def __init__(self, provider: KnowledgeBaseProvider | None = None, client: HandoffClient | None = None) -> None:
        super().__init__(client)
        self.provider = provider or KnowledgeBaseProvider()

    async def kb_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
                        ) -> list[EventType] | None:
        """The help article that clearly answers the latest message, shown briefly; None when none does."""
        text = latest_text(tracker)
        kb = await self.provider.ready()
        lang = language_of(tracker)
        result = kb.search(text, lang, k=3, vector=message_vector(kb, tracker.latest_message or {}, text))
        if result.best is None or result.ambiguous:
            return None
        hit = result.best
        utter(dispatcher, tracker, domain, "utter_kb_digression", title=hit.article.title,
              summary=hit.article.summary or hit.snippet, url=article_url(hit.article))
        shown = [s for s in tracker.get_slot("kb_articles_shown") or [] if s.get("id") != hit.article.id]
        return [SlotSet("kb_articles_shown", [*shown, shown_entry(hit)][-10:])]

    async def latest_search(self, tracker: Tracker) -> SearchResult | None:
        """The knowledge base's answer to the latest message (None for no text)."""
        text = latest_text(tracker)
        if not text:
            return None
        kb = await self.provider.ready()
        return kb.search(text, language_of(tracker), k=3, vector=message_vector(kb, tracker.latest_message or {}, text))

    async def other_topic(self, tracker: Tracker, result: SearchResult | None = None) -> Hit | None:
        """The article that clearly answers the latest message, when it is about something else than the
        open ticket (another category, not an article shown before); None otherwise. ``result``: the
        search of the latest message, when the caller has it."""
        result = result or await self.latest_search(tracker)
        if result is None:
            return None
        hit = result.best
        shown = {s.get("id") for s in tracker.get_slot("kb_articles_shown") or []}
        if hit is None or result.ambiguous or hit.article.id in shown:
            return None
        return None if hit.article.category == tracker.get_slot("category") else hit

    async def show_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                          hit: Hit) -> list[EventType]:
        shown = list(tracker.get_slot("kb_articles_shown") or [])
        return show_article(dispatcher, tracker, domain, hit, language_of(tracker), shown)

    async def answer(self, kind: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                     requested: str) -> list[EventType] | None:
        """Answer it (the caller leaves ``requested`` empty, so the form asks it again); None when it is the
        answer after all: a question that no article answers, given for a free-text field."""
        if kind == "wait":
            await self.wait(dispatcher, tracker, domain)
            return []
        if kind == "question":
            shown = await self.kb_answer(dispatcher, tracker, domain)
            if shown is not None:
                return shown
            if requested not in STRUCTURED:
                return None
        if requested in HELP_RESPONSES and (kind == "help" or requested != "contact_email"):
            utter(dispatcher, tracker, domain, HELP_RESPONSES[requested])
            return []
        # nobody here can answer it: the team gets the question with the request
        utter(dispatcher, tracker, domain, "utter_question_noted")
        description = tracker.get_slot("description")
        note = latest_text(tracker)
        return [SlotSet("description", f"{description}\n{note}" if description else note)]

    async def wait(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> None:
        """The first response the handoff service would promise if the request were sent now."""
        from actions.handoff import eta_text, ticket_request  # the ticket request module imports this one

        lang = language_of(tracker)
        try:
            estimate = await self.client.estimate(ticket_request(tracker))
        except (HandoffUnavailable, HandoffRejected) as exc:
            logger.warning("no estimate for %s: %s", tracker.sender_id, exc)
            utter(dispatcher, tracker, domain, "utter_wait_unknown")
            return
        utter(dispatcher, tracker, domain, "utter_wait_estimate", queue_label=queue_label(estimate["queue"], lang),
              eta=eta_text(int(estimate["expected_first_response_minutes"]), lang))


class AnswersDigressions:
    """An action or form validator that answers digressions: the Digressions it was given (tests), or
    one made on first use."""

    def __init__(self, digressions: Digressions | None = None) -> None:
        super().__init__()
        self._digressions = digressions

    @property
    def digressions(self) -> Digressions:
        if self._digressions is None:
            self._digressions = Digressions()
        return self._digressions
