"""Tier 0: answer from the knowledge base, learn from "helped" / "did not help"."""

from __future__ import annotations

import abc
import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.respond import render, utter
from actions.customer import language_events, language_of
from actions.texts import LANGUAGE_NAMES, label
from bot.dialogue import is_question, says_other_problem
from bot.kb.encoder import E5Encoder, Matrix, decode_vector, encode_vector
from bot.kb.search import Hit, KnowledgeBase, SearchResult
from actions.handoff_client import HandoffClient
from actions.incidents import KnownProblems, keys_of_problem, problem_categories
from actions.settings import action_settings
from actions.signals import Signals

logger = logging.getLogger(__name__)

MAX_FAILED_ANSWERS = 2  # two failed answers in a row: offer a human right away


class KnowledgeBaseProvider:
    """Loads the KB once per process, watches the folder for edits (hot reload) and keeps feedback in
    Redis so every action server learns from every customer.

    The action server's entry point (``python -m actions``) starts the load (parsing, indexes, sentence
    embeddings) in a thread before it serves, so the first customer does not wait for it; actions
    ``await ready()``, so the event loop never blocks on it."""

    _lock = threading.Lock()
    _shared: KnowledgeBase | None = None
    _loader: threading.Thread | None = None
    _failure: str | None = None

    def __init__(self, kb: KnowledgeBase | None = None) -> None:
        self._kb = kb

    @classmethod
    def start_loading(cls) -> None:
        with cls._lock:
            if cls._shared is None and cls._loader is None:
                cls._loader = threading.Thread(target=cls._load_shared, name="kb-load", daemon=True)
                cls._loader.start()

    @classmethod
    def _load_shared(cls) -> KnowledgeBase:
        with cls._lock:
            if cls._shared is None:
                try:
                    cls._shared = cls._load()
                except Exception as exc:  # reported by /ready; the next action tries again
                    cls._failure = f"{type(exc).__name__}: {exc}"
                    logger.exception("loading the knowledge base failed")
                    raise
                cls._failure = None
            return cls._shared

    @classmethod
    def load_state(cls) -> dict[str, Any]:
        """For the action server's ``/ready``: loading, ready (with the article count) or failed."""
        kb = cls._shared
        if kb is not None:
            return {"status": "ready", "articles": len(kb.articles()), "issues": len(kb.issues)}
        if cls._failure is not None:
            return {"status": "failed", "error": cls._failure}
        return {"status": "loading"}

    def get(self) -> KnowledgeBase:
        if self._kb is None:
            self._kb = KnowledgeBaseProvider._load_shared()
        return self._kb

    async def ready(self) -> KnowledgeBase:
        """The knowledge base, waiting in a thread (not on the event loop) while it still loads."""
        if self._kb is not None:
            return self._kb
        return await asyncio.to_thread(self.get)

    @staticmethod
    def _load() -> KnowledgeBase:
        config = action_settings()
        root = config.kb_root
        feedback = None
        if config.redis_url:
            from actions.kb_feedback import RedisFeedbackStore

            feedback = RedisFeedbackStore.from_url(config.redis_url, prefix=config.key_prefix)
        kb = KnowledgeBase.load(root, feedback=feedback, encoder=E5Encoder(), embedding_cache=config.embedding_cache)
        kb.watch()
        logger.info("knowledge base loaded from %s: %d articles, %d issues", root, len(kb.articles()),
                    len(kb.issues))
        return kb


def message_vector(kb: KnowledgeBase, message: dict[str, Any], text: str) -> Matrix | None:
    """The sentence embedding the Rasa server computed for the latest message (``text_embedding`` in its
    parse data), when ``text`` is that message: the KB then does not encode it a second time."""
    if kb.encoder is None or message.get("text") != text:
        return None
    return decode_vector(message.get("text_embedding"), kb.encoder.dim)


def search_in_context(kb: KnowledgeBase, text: str, lang: str, message: dict[str, Any],
                      previous_query: str | None, other_companies: bool = True) -> SearchResult:
    """Search for ``text``. When nothing fits it alone (or it looks closer to the out-of-scope examples),
    two readings in context: a follow-up question on the previous one ("and how do I set that up
    again?") searched with it, and a long message searched sentence by sentence (one sentence names the
    problem, the others tell the story). A reading must fit clearly and not look out of scope."""
    result = kb.search(text, lang, k=3, vector=message_vector(kb, message, text), other_companies=other_companies)
    if result.best is not None or result.other_company is not None:
        return result
    readings = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) >= 3]
    readings = readings if len(readings) > 1 else []
    if previous_query and previous_query != text and len(text.split()) <= 12:
        readings.append(f"{previous_query} {text}")
    for reading in readings:
        found = kb.search(reading, lang, k=3, other_companies=other_companies)
        if found.best is not None and not found.ambiguous and not found.out_of_scope:
            return SearchResult(text, lang, found.hits, False, False, found.threshold)
    return result


def embedder(kb: KnowledgeBase, text: str) -> Callable[[], Awaitable[str | None]]:
    """The sentence embedding of ``text``, computed when called (in a thread, off the event loop)."""

    async def embed() -> str | None:
        if kb.encoder is None or not text:
            return None
        vectors = await asyncio.to_thread(kb.encoder.encode, [text])
        return encode_vector(vectors[0])

    return embed


def article_url(hit_article: Any) -> str:
    base = action_settings().public_site_url
    return f"{base}/help/{hit_article.lang}/{hit_article.id}"


def shown_entry(hit: Hit, feedback: str = "none") -> dict[str, str]:
    return {"id": hit.article.id, "lang": hit.article.lang, "title": hit.article.title,
            "category": hit.article.category, "escalate_to": hit.article.escalate_to or "", "feedback": feedback}


class KbAction(Action, abc.ABC):
    """Shared by the KB actions: the KB, the failure counter, the open incidents and the signals. ``client``
    (the handoff service's) serves both of the last two; the configured one by default."""

    def __init__(self, provider: KnowledgeBaseProvider | None = None, client: HandoffClient | None = None) -> None:
        self.provider = provider or KnowledgeBaseProvider()
        self.handoff = client  # None: the configured client, made on first use
        self.known = KnownProblems(client)
        self.signals = Signals(client)

    @abc.abstractmethod
    def name(self) -> str: ...

    @staticmethod
    def failure(tracker: Tracker) -> tuple[list[EventType], bool]:
        """Count a failed answer; the second in a row, or one for a complaining customer, means: offer a
        human right away."""
        failed = int(tracker.get_slot("failed_answers") or 0) + 1
        events: list[EventType] = [SlotSet("failed_answers", float(failed))]
        complaint = (tracker.latest_message or {}).get("intent", {}).get("name") == "complaint"
        offer_human = failed >= MAX_FAILED_ANSWERS or complaint
        if offer_human:
            events += [SlotSet("kb_result", "offer_human"), SlotSet("frustrated", True)]
        return events, offer_human


# the score an article needs to answer a message the intent classifier read as out of scope (the search's
# own threshold is for messages about us)
OUT_OF_SCOPE_INTENT_MIN = 0.6


class ActionAnswerFromKb(KbAction):
    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        kb = await self.provider.ready()
        shown = list(tracker.get_slot("kb_articles_shown") or [])
        latest = tracker.latest_message or {}
        intent = latest.get("intent", {}).get("name")
        chosen = tracker.get_slot("kb_article") if intent == "choose_article" else None
        text = str(latest.get("text") or "")
        # told of a known problem, the customer says it is another one: the button (then the question asked
        # before is searched again) or typed (then what they typed, if it says more than "something else")
        typed_other = bool(tracker.get_slot("incident")) and not text.startswith("/") and says_other_problem(text)
        not_mine = intent == "incident_not_mine" or typed_other
        query = tracker.get_slot("kb_query") if chosen or (not_mine and not typed_other) else text
        events: list[EventType] = list(language_events(tracker))
        if not_mine:
            events += await self.known.not_mine(tracker)
            if typed_other and len(text.split()) <= 6:
                utter(dispatcher, tracker, domain, "utter_incident_describe_other")
                return events + [SlotSet("kb_result", "unclear")]
        if chosen:
            article = kb.get(chosen, lang) or next((a for a in kb.articles() if a.id == chosen), None)
            if article is None:
                utter(dispatcher, tracker, domain, "utter_default")
                return events + [SlotSet("kb_result", "unclear")]
            hit = Hit(article, 1.0, article.summary, article.lang != lang)
            return events + show_article(dispatcher, tracker, domain, hit, lang, shown)

        description = tracker.get_slot("description")
        if not not_mine or typed_other:
            events += [SlotSet("kb_query", query),
                       SlotSet("description", f"{description}\n{query}" if description else query)]
        # declined just before as that same company's matter: the customer insists it is ours
        previous = tracker.get_slot("kb_query")
        company = kb.other_company(query)
        insists = (tracker.get_slot("kb_result") == "declined" and company is not None and previous is not None
                   and (kb.other_company(previous) or "").casefold() == company.casefold())
        result = search_in_context(kb, query, lang, latest, previous, not insists)
        complaint = intent == "complaint"
        if insists and result.out_of_scope and result.hits and result.hits[0].score >= result.threshold:
            # no second refusal for a customer who says it again: the article that fits, if one does
            return events + show_article(dispatcher, tracker, domain, result.hits[0], lang, shown)
        # the intent classifier read it as not about us ("how do I make a kids' profile?" can look like
        # small talk): an article answers only when it fits clearly, else the same polite refusal
        unsure_of_us = intent == "out_of_scope" and not insists and not (
            result.best is not None and not result.ambiguous and result.best.score >= OUT_OF_SCOPE_INTENT_MIN)
        if (result.out_of_scope and result.best is None and not complaint and not insists) or unsure_of_us:
            # about another company's product or account: say so, and what the bot can do; no form
            if result.other_company is not None:
                utter(dispatcher, tracker, domain, "utter_out_of_scope_company", company=result.other_company)
            else:
                utter(dispatcher, tracker, domain, "utter_out_of_scope")
            utter(dispatcher, tracker, domain, "utter_what_i_can_do")
            self.signals.send(tracker, "declined", text=query)
            return events + [SlotSet("kb_result", "declined")]
        if not not_mine:
            known = await self.known_problem(dispatcher, tracker, domain, result)
            if known is not None:
                return events + known
        if result.ambiguous and len(result.hits) >= 2:
            first, second = result.hits[0], result.hits[1]
            buttons = [{"title": h.article.title, "payload": f'/choose_article{{"kb_article":"{h.article.id}"}}'}
                       for h in (first, second)]
            buttons.append({"title": render(domain, "utter_kb_none_of_these", lang)[0],
                            "payload": "/feedback_not_helped"})
            utter(dispatcher, tracker, domain, "utter_kb_which_one", buttons=buttons)
            self.signals.send(tracker, "kb_ambiguous", text=query, article_id=first.article.id,
                              category=first.article.category)
            category = first.article.category if first.article.category == second.article.category else None
            return events + [SlotSet("kb_result", "ambiguous")] + (
                [SlotSet("category", category)] if category and not tracker.get_slot("category") else [])
        if result.best is not None:
            last = next((e for e in reversed(shown) if e.get("id") == tracker.get_slot("kb_article")), None)
            if (last is not None and result.best.article.id == last.get("id") and result.best.article.lang == last.get("lang")
                    and tracker.get_slot("kb_result") == "answered" and not is_question(query)):
                # the same article again for a statement, not a question: the customer is saying it did not
                # solve it ("restarted, still crashes"); never repeat it, take it as "did not help"
                return events + list(await ActionKbFeedback(self.provider, self.handoff).run(
                    dispatcher, tracker, domain))
            self.signals.send(tracker, "kb_answered", text=query, article_id=result.best.article.id,
                              article_lang=result.best.article.lang, category=result.best.article.category)
            return events + show_article(dispatcher, tracker, domain, result.best, lang, shown)

        # nothing fits: a guess would waste the customer's time
        fields = problem_fields(tracker, result)
        self.signals.send(tracker, "kb_no_answer", text=query,
                          embedding=latest.get("text_embedding") if latest.get("text") == query else None,
                          category=fields["category"], product=fields["product"], error_code=fields["error_code"])
        failure, offer_human = self.failure(tracker)
        if offer_human:
            return events + failure
        if intent == "nlu_fallback":
            utter(dispatcher, tracker, domain, "utter_default")
            return events + failure + [SlotSet("kb_result", "unclear")]
        utter(dispatcher, tracker, domain, "utter_kb_no_answer")
        return events + failure + [SlotSet("kb_result", "none")]

    async def known_problem(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                            result: SearchResult) -> list[EventType] | None:
        """A problem many customers have right now (an open incident): say so and link the conversation."""
        keys = keys_of_problem(tracker, problem_categories(result, str(tracker.get_slot("category") or "")),
                               result.best.article.id if result.best else "")
        found = await self.known.match(tracker, keys)
        if found is None:
            return None
        return await self.known.tell(dispatcher, tracker, domain, *found)


def problem_fields(tracker: Tracker, result: SearchResult | None = None) -> dict[str, str]:
    """Category, product and error code of the customer's problem as far as the conversation knows them
    (for the signals: the incident detector counts unanswered problems by them)."""
    top = result.hits[0] if result is not None and result.hits else None
    codes = [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities", [])
             if e.get("entity") == "error_code"]
    products = [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities", [])
                if e.get("entity") == "product"]
    return {"category": str(tracker.get_slot("category") or (top.article.category if top else "") or ""),
            "product": products[0] if products else str(tracker.get_slot("product") or ""),
            "error_code": codes[0] if codes else str(tracker.get_slot("error_code") or "")}


def show_article(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], hit: Hit, lang: str,
                 shown: list[dict[str, str]]) -> list[EventType]:
    """The article as the answer: summary, "read more" link and the did-it-help buttons."""
    article = hit.article
    if hit.fallback_lang:
        utter(dispatcher, tracker, domain, "utter_kb_other_language",
              article_language=label(LANGUAGE_NAMES, article.lang, lang))
    utter(dispatcher, tracker, domain, "utter_kb_answer", title=article.title,
          summary=article.summary or hit.snippet, url=article_url(article))
    shown = [s for s in shown if s.get("id") != article.id] + [shown_entry(hit)]
    events: list[EventType] = [SlotSet("kb_result", "answered"), SlotSet("kb_article", article.id),
                               SlotSet("kb_articles_shown", shown[-10:]), SlotSet("category", article.category)]
    if len(article.products) == 1:
        events.append(SlotSet("product", article.products[0]))
    return events


class ActionKbFeedback(KbAction):
    def name(self) -> str:
        return "action_kb_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        # the buttons, or typed right after the article ("yes, thanks" / "no, that's useless")
        helped = intent in ("feedback_helped", "affirm", "thanks")
        article_id = tracker.get_slot("kb_article")
        query = tracker.get_slot("kb_query") or ""
        lang = language_of(tracker)
        shown = list(tracker.get_slot("kb_articles_shown") or [])
        if article_id:
            for entry in shown:
                if entry.get("id") == article_id:
                    entry["feedback"] = "helped" if helped else "did_not_help"
            kb = await self.provider.ready()
            try:
                article_lang = next((e.get("lang", lang) for e in shown if e.get("id") == article_id), lang)
                kb.record_feedback(query, article_lang, article_id, helped, voter=tracker.sender_id)
            except Exception:  # feedback is best effort; the customer's conversation goes on
                logger.warning("could not record KB feedback for %s", article_id, exc_info=True)
            fields = problem_fields(tracker)
            category = next((e.get("category", "") for e in shown if e.get("id") == article_id), "")
            self.signals.send(tracker, "kb_feedback", text=query, helped=helped, article_id=article_id,
                              embed=None if helped else embedder(kb, query), category=category or fields["category"],
                              product=fields["product"], error_code=fields["error_code"])
        events: list[EventType] = [SlotSet("kb_articles_shown", shown)]
        text = str((tracker.latest_message or {}).get("text") or "")
        description = tracker.get_slot("description")
        if not helped and not text.startswith("/") and len(text.split()) >= 4 and text not in (description or ""):
            # "didn't help, both payments are still there": what it adds belongs to the problem's description
            events.append(SlotSet("description", f"{description}\n{text}" if description else text))
        if helped:
            utter(dispatcher, tracker, domain, "utter_glad_it_helped")
            return events + [SlotSet("failed_answers", 0.0), SlotSet("kb_result", "answered")]
        if article_id:  # the usual fix does not work: a known problem right now?
            category = next((e.get("category", "") for e in shown if e.get("id") == article_id), "")
            found = await self.known.match(tracker, keys_of_problem(tracker, category, str(article_id)))
            told = await self.known.tell(dispatcher, tracker, domain, *found) if found else None
            if told is not None:
                return events + told
        failure, offer_human = self.failure(tracker)
        if offer_human:
            return events + failure
        utter(dispatcher, tracker, domain, "utter_kb_sorry_not_helped")
        return events + failure + [SlotSet("kb_result", "none")]
