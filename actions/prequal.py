"""Pre-qualification: the problem form, its validation, the summary the customer confirms.

The form asks only what is still missing: entities mentioned earlier, the KB articles already shown and a
signed-in customer's identity fill slots before it asks. A customer who asked for a human (or is
frustrated) gets the short version: a description and a way to reach them, nothing else.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.respond import utter
from actions.customer import language_of
from actions.texts import (
    CATEGORIES, CATEGORY_WORDS, FIELDS, IMPACT_WORDS, IMPACTS, NONE_WORDS, NOTHING_TRIED_WORDS, SKIP_WORDS,
    SKIPPED, URGENCIES, URGENCY_WORDS, is_one_of, label, match_choice,
)
from bot.entities import normalise

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
MAX_ATTEMPTS = 2
MIN_DESCRIPTION = 12


def short_mode(tracker: Tracker) -> bool:
    return bool(tracker.get_slot("requested_human") or tracker.get_slot("frustrated"))


def needed_slots(tracker: Tracker) -> list[str]:
    """What the form still has to know, given everything said so far."""
    required = ["description"]
    full = not short_mode(tracker)
    category = tracker.get_slot("category")
    if full:
        required.append("category")
        required += {"technical": ["product", "error_code"], "shipping": ["order_number"],
                     "billing": ["invoice_number"]}.get(category or "", [])
    if not tracker.get_slot("customer_email"):
        required.append("contact_email")
    if full:
        if not tracker.get_slot("kb_articles_shown"):
            required.append("steps_tried")
        required += ["impact", "urgency"]
    return required


class ValidateProblemForm(FormValidationAction):
    def name(self) -> str:
        return "validate_problem_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        return needed_slots(tracker)

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _failed(slot: str, tracker: Tracker, dispatcher: CollectingDispatcher, domain: DomainDict, response: str,
                skip_value: Any = SKIPPED) -> dict[str, Any]:
        """A failed attempt: re-prompt with help; after MAX_ATTEMPTS explain and move on."""
        failures = dict(tracker.get_slot("validation_failures") or {})
        failures[slot] = failures.get(slot, 0) + 1
        if failures[slot] >= MAX_ATTEMPTS:
            utter(dispatcher, tracker, domain, "utter_skipping_field")
            return {slot: skip_value, "validation_failures": failures}
        utter(dispatcher, tracker, domain, response)
        return {slot: None, "validation_failures": failures}

    # -- validators ----------------------------------------------------------------------------
    def validate_description(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) >= MIN_DESCRIPTION or len(text.split()) >= 3:
            return {"description": text}
        return self._failed("description", tracker, dispatcher, domain, "utter_invalid_description", skip_value=text or "-")

    def validate_category(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> dict[str, Any]:
        category = match_choice(str(value or ""), CATEGORY_WORDS)
        if category in CATEGORIES:
            return {"category": category}
        return self._failed("category", tracker, dispatcher, domain, "utter_invalid_category", skip_value="general")

    def validate_product(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        if is_one_of(text, SKIP_WORDS):
            return {"product": SKIPPED}
        return {"product": text[:80]} if text else self._failed("product", tracker, dispatcher, domain, "utter_invalid_choice")

    def validate_error_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        code = normalise("error_code", text)
        if re.fullmatch(r"E-\d{4}", code):
            return {"error_code": code}
        if is_one_of(text, NONE_WORDS) or is_one_of(text, SKIP_WORDS):
            return {"error_code": "none"}
        return self._failed("error_code", tracker, dispatcher, domain, "utter_invalid_error_code", skip_value="none")

    def _reference(self, slot: str, pattern: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                   domain: DomainDict) -> dict[str, Any]:
        """An order or invoice number in its canonical form, or "skipped" when the customer has none."""
        text = str(value or "").strip()
        number = normalise(slot, text)
        if re.fullmatch(pattern, number):
            return {slot: number}
        if is_one_of(text, SKIP_WORDS) or is_one_of(text, NONE_WORDS):
            return {slot: SKIPPED}
        return self._failed(slot, tracker, dispatcher, domain, f"utter_invalid_{slot}")

    def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        return self._reference("order_number", r"SO-\d{6}", value, dispatcher, tracker, domain)

    def validate_invoice_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        return self._reference("invoice_number", r"INV-\d{4}-\d{5}", value, dispatcher, tracker, domain)

    def validate_contact_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip().strip("<>").lower()
        found = re.search(r"[^@\s<>]+@[^@\s<>]+\.[a-z]{2,}", text)
        if found and EMAIL.match(found.group(0)):
            return {"contact_email": found.group(0)}
        return self._failed("contact_email", tracker, dispatcher, domain, "utter_invalid_contact_email")

    def validate_steps_tried(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        return {"steps_tried": "nothing yet" if is_one_of(text, NOTHING_TRIED_WORDS) else text[:500] or SKIPPED}

    def validate_impact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: DomainDict) -> dict[str, Any]:
        impact = match_choice(str(value or ""), IMPACT_WORDS)
        if impact:
            return {"impact": impact}
        return self._failed("impact", tracker, dispatcher, domain, "utter_invalid_choice", skip_value="only_me")

    def validate_urgency(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> dict[str, Any]:
        urgency = match_choice(str(value or ""), URGENCY_WORDS)
        if urgency:
            return {"urgency": urgency}
        return self._failed("urgency", tracker, dispatcher, domain, "utter_invalid_choice", skip_value="normal")


def ticket_summary(tracker: Tracker, lang: str) -> str:
    """The pre-qualified details as a Markdown list, in the customer's language."""
    values = {
        "category": label(CATEGORIES, tracker.get_slot("category"), lang) if tracker.get_slot("category") else None,
        "description": tracker.get_slot("description"),
        "product": tracker.get_slot("product"),
        "error_code": tracker.get_slot("error_code"),
        "order_number": tracker.get_slot("order_number"),
        "invoice_number": tracker.get_slot("invoice_number"),
        "contact_email": tracker.get_slot("contact_email") or tracker.get_slot("customer_email"),
        "steps_tried": steps_tried_text(tracker),
        "impact": label(IMPACTS, tracker.get_slot("impact"), lang) if tracker.get_slot("impact") else None,
        "urgency": label(URGENCIES, tracker.get_slot("urgency"), lang) if tracker.get_slot("urgency") else None,
    }
    lines = []
    for field, value in values.items():
        if value in (None, "", SKIPPED, "none"):
            continue
        text = str(value).replace("\n", " / ")
        lines.append(f"- **{label(FIELDS, field, lang)}:** {text[:300]}")
    return "\n".join(lines)


def steps_tried_text(tracker: Tracker) -> str | None:
    parts = [f"KB: {a.get('title')} ({a.get('feedback', 'none').replace('_', ' ')})"
             for a in tracker.get_slot("kb_articles_shown") or []]
    own = tracker.get_slot("steps_tried")
    if own and own != SKIPPED:
        parts.append(own)
    return "; ".join(parts) or None


class ActionStartHandoff(Action):
    """The customer wants a human (asked, or accepted our offer): the short form, then the ticket."""

    def name(self) -> str:
        return "action_start_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, tracker, domain, "utter_handoff_intro")
        events: list[EventType] = [SlotSet("requested_human", True)]
        if not tracker.get_slot("description"):
            # what the customer said so far is the description; never ask again what they already told us
            texts = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")
                     and not str(e.get("text")).startswith("/")
                     and (e.get("parse_data") or {}).get("intent", {}).get("name") in (
                         "describe_problem", "complaint", "nlu_fallback", "out_of_scope")]
            if texts:
                events.append(SlotSet("description", "\n".join(str(t) for t in texts[-3:])))
        return events


class ActionFlagFrustration(Action):
    def name(self) -> str:
        return "action_flag_frustration"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return [SlotSet("frustrated", True)]


class ActionReviewTicket(Action):
    """After the form: the full path shows a summary to confirm; the short path goes straight on."""

    def name(self) -> str:
        return "action_review_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if short_mode(tracker):
            return [SlotSet("review", "direct")]
        utter(dispatcher, tracker, domain, "utter_ticket_summary", summary=ticket_summary(tracker, language_of(tracker)))
        return [SlotSet("review", "confirm")]


class ActionChooseField(Action):
    """The customer wants to correct the summary: which field?"""

    def name(self) -> str:
        return "action_choose_field"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        buttons = [{"title": label(FIELDS, field, lang), "payload": f'/correct_field{{"field":"{field}"}}'}
                   for field in needed_slots(tracker)]
        utter(dispatcher, tracker, domain, "utter_ask_which_field", buttons=buttons)
        return []


class ActionResetField(Action):
    def name(self) -> str:
        return "action_reset_field"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        field = next((e.get("value") for e in (tracker.latest_message or {}).get("entities", [])
                      if e.get("entity") == "field"), None)
        if field not in FIELDS:
            field = "description"
        failures = dict(tracker.get_slot("validation_failures") or {})
        failures.pop(field, None)
        return [SlotSet(field, None), SlotSet("validation_failures", failures)]


CHOICE_TABLES = {"category": CATEGORY_WORDS, "impact": IMPACT_WORDS, "urgency": URGENCY_WORDS}


class ActionHandleFormCancel(Action):
    """`cancel` during the form: a short answer such as "it can wait" can look like "stop" to the intent
    classifier. When the text is a valid answer to the question being asked, take it and go on; otherwise
    the customer really wants to stop."""

    def name(self) -> str:
        return "action_handle_form_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        slot = tracker.get_slot("requested_slot")
        text = str((tracker.latest_message or {}).get("text") or "")
        table = CHOICE_TABLES.get(str(slot))
        value = match_choice(text, table) if table else None
        if value:
            return [SlotSet(str(slot), value), SlotSet("form_cancel", "answer")]
        return [SlotSet("form_cancel", "stop")]
