"""Pre-qualification: the problem form, its validation, the summary the customer confirms.

The form asks only what is still missing: entities mentioned earlier, the KB articles already shown, a
signed-in customer's identity and what the customer's own words already say (the device named, what was
tried, who is affected and how urgent it is) fill slots before it asks. A customer who asked for a human
(or is frustrated) gets the short version: a description and a way to reach them, nothing else. A
question instead of an answer is answered and the form asks again (actions/digression.py); "skip" skips
a field the bot offered to skip.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.digression import AnswersDigressions, digression_kind
from actions.respond import utter
from actions.customer import language_of
from actions.texts import (
    CATEGORY_WORDS, FEEDBACK, FIELDS, HELP_ARTICLE, IMPACT_WORDS, IMPACTS, NONE_WORDS, NOTHING_TRIED,
    NOTHING_TRIED_WORDS, SKIP_WORDS, SKIPPED, URGENCIES, URGENCY_WORDS, category_label, is_one_of, label,
    match_choice, taxonomy,
)
from bot.conversation_keys import SAID_SLOT
from bot.dialogue import assess_severity, device_named, devices_in, fields_named, is_question, negated, steps_tried_in
from bot.entities import normalise

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
MAX_ATTEMPTS = 2
MIN_DESCRIPTION = 12


NOTHING_YET = "nothing yet"
KEY_REFERENCE = {"shipping": ["order_number"], "billing": ["invoice_number"]}
# the form of a valid value of each reference field, after bot.entities.normalise
REFERENCE_PATTERNS = {"error_code": r"E-\d{4}", "order_number": r"SO-\d{6}", "invoice_number": r"INV-\d{4}-\d{5}"}


def short_mode(tracker: Tracker) -> bool:
    return bool(tracker.get_slot("requested_human") or tracker.get_slot("frustrated"))


def customer_texts(tracker: Tracker) -> list[str]:
    """Everything the customer typed in this session (button payloads left out): what the tracker store
    kept from before the loaded tail (``customer_said``), then the tail's messages."""
    earlier = tracker.get_slot(SAID_SLOT)
    texts = [str(t) for t in (earlier if isinstance(earlier, list) else [])]
    texts += [str(e.get("text")) for e in tracker.events if e.get("event") == "user" and e.get("text")]
    return [t for t in texts if not t.startswith("/")]


def statements(tracker: Tracker) -> str:
    """The customer's sentences that are not questions ("is there an outage?" reports none)."""
    sentences = [s for t in customer_texts(tracker) for s in re.split(r"(?<=[.!?])\s+|\n+", t)]
    return "\n".join(s for s in sentences if s.strip() and not is_question(s))


def inferred_fields(tracker: Tracker) -> dict[str, str]:
    """Fields the customer's own words already answer: who is affected and how urgent (what they report,
    not what they ask), the device they named, what they already tried."""
    said = statements(tracker)
    severity = assess_severity(said)
    out: dict[str, str] = {}
    if severity.impact:
        out["impact"] = severity.impact
    if severity.urgency:
        out["urgency"] = severity.urgency
    devices = devices_in(said)
    if devices:
        out["product"] = devices[0]
    tried = steps_tried_in(said)
    if tried:
        out["steps_tried"] = tried
    return out


def needed_slots(tracker: Tracker) -> list[str]:
    """What the form still has to know, given everything said so far."""
    required = ["description"]
    full = not short_mode(tracker)
    category = tracker.get_slot("category")
    if full:
        required.append("category")
        required += {"technical": ["product", "error_code"], "shipping": ["order_number"],
                     "billing": ["invoice_number"]}.get(category or "", [])
    else:
        # a customer in a hurry is asked only what the team cannot act without: the order or invoice the
        # problem is about (one question, skippable), so the next tier does not have to ask for it
        required += KEY_REFERENCE.get(category or "", [])
    if not tracker.get_slot("customer_email"):
        required.append("contact_email")
    if full:
        if not tracker.get_slot("kb_articles_shown"):
            required.append("steps_tried")
        required += ["impact", "urgency"]
    return required


def replies_to_form(tracker: Tracker) -> bool:
    """Is the form validating a customer's reply (not its own activation)? Rasa hands the validation a
    tracker that ends with the form's own execution (and the slots it extracted); before that comes the
    user message, or another action of the bot."""
    skipped_form = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action":
            if not skipped_form and event.get("name") == "problem_form":
                skipped_form = True
                continue
            if event.get("name") != "action_listen":
                return False
    return False


def valid_answer(slot: str, text: str) -> bool:
    """Would ``text`` pass the validation of ``slot`` (free-text slots: anything may be an answer)?"""
    if slot == "category":
        return match_choice(text, CATEGORY_WORDS) in taxonomy().categories
    if slot == "impact":
        return match_choice(text, IMPACT_WORDS) is not None
    if slot == "urgency":
        return match_choice(text, URGENCY_WORDS) is not None
    if slot == "contact_email":
        return re.search(r"[^@\s<>]+@[^@\s<>]+\.[a-z]{2,}", text, re.IGNORECASE) is not None
    skip = is_one_of(text, SKIP_WORDS) or is_one_of(text, NONE_WORDS)
    if slot in REFERENCE_PATTERNS:
        return skip or re.fullmatch(REFERENCE_PATTERNS[slot], normalise(slot, text.strip())) is not None
    return False


class ValidateProblemForm(AnswersDigressions, FormValidationAction):
    def name(self) -> str:
        return "validate_problem_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        return needed_slots(tracker)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        # what the customer's words already answer fills the empty fields first (never asked)
        prefill: list[EventType] = [SlotSet(k, v) for k, v in inferred_fields(tracker).items()
                                    if not tracker.get_slot(k)]
        requested = tracker.get_slot("requested_slot")
        text = str((tracker.latest_message or {}).get("text") or "")
        said: list[EventType] = []  # the answer to a digression that came with the form's answer
        if requested and replies_to_form(tracker):
            kind = digression_kind(tracker, str(requested), valid_answer(str(requested), text))
            if kind is not None:
                answered = await self.digressions.answer(kind, dispatcher, tracker, domain, str(requested))
                if answered is not None:
                    candidate = str(tracker.slots_to_validate().get(str(requested)) or "")
                    if not (candidate and candidate.strip() != text.strip()
                            and valid_answer(str(requested), candidate)):
                        # the same question again (not the domain's next one)
                        return [*prefill, *answered, SlotSet(str(requested), None),
                                SlotSet("requested_slot", requested)]
                    said = answered  # "SO-302144 - how long will this take?": the answer is validated below
        for event in prefill:
            tracker.slots[event["name"]] = event["value"]
        return [*prefill, *said, *await super().run(dispatcher, tracker, domain)]

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
        if category in taxonomy().categories:
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
        return {"steps_tried": NOTHING_YET if is_one_of(text, NOTHING_TRIED_WORDS) else text[:500] or SKIPPED}

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


def ticket_summary(tracker: Tracker, lang: str, changes: dict[str, Any] | None = None) -> str:
    """The pre-qualified details as a Markdown list, in the customer's language (``changes``: slot values
    set in this very turn, which the tracker does not show yet)."""
    changes = changes or {}

    def slot(name: str) -> Any:
        return changes[name] if name in changes else tracker.get_slot(name)

    values = {
        "category": category_label(slot("category"), lang) if slot("category") else None,
        "description": slot("description"),
        "product": slot("product"),
        "error_code": slot("error_code"),
        "order_number": slot("order_number"),
        "invoice_number": slot("invoice_number"),
        "contact_email": slot("contact_email") or tracker.get_slot("customer_email"),
        "steps_tried": steps_tried_text(tracker, lang),
        "impact": label(IMPACTS, slot("impact"), lang) if slot("impact") else None,
        "urgency": label(URGENCIES, slot("urgency"), lang) if slot("urgency") else None,
    }
    lines = []
    for field, value in values.items():
        if value in (None, "", SKIPPED, "none"):
            continue
        text = str(value).replace("\n", " / ")
        lines.append(f"- **{label(FIELDS, field, lang)}:** {text[:300]}")
    return "\n".join(lines)


def steps_tried_text(tracker: Tracker, lang: str = "en") -> str | None:
    """The articles shown (and how they did) and what the customer tried, in ``lang``."""
    parts = [f"{HELP_ARTICLE[lang]}: {a.get('title')} ({label(FEEDBACK, a.get('feedback', 'none'), lang)})"
             for a in tracker.get_slot("kb_articles_shown") or []]
    own = tracker.get_slot("steps_tried")
    if own == NOTHING_YET:
        own = NOTHING_TRIED[lang]
    if own and own != SKIPPED:
        parts.append(own)
    return "; ".join(parts) or None


class ActionStartHandoff(Action):
    """The customer wants a human (asked, or accepted our offer): the short form, then the ticket."""

    def name(self) -> str:
        return "action_start_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        slot = str(tracker.get_slot("requested_slot"))
        if tracker.active_loop_name == "problem_form" and slot in CHOICE_TABLES:
            # "kun mig" / "only me" can look like "a person, please" to the classifier: an answer first
            value = match_choice(str((tracker.latest_message or {}).get("text") or ""), CHOICE_TABLES[slot])
            if value:
                return [SlotSet(slot, value)]
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
    """After the form: the full path shows a summary to confirm; the short path (a customer who asked for a
    person or is frustrated) goes straight on."""

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
ENTITY_FIELDS = {"email": "contact_email", "order_number": "order_number", "invoice_number": "invoice_number",
                 "error_code": "error_code"}


def corrections(text: str, entities: list[dict[str, Any]]) -> dict[str, str]:
    """The new values a correction at the summary gives: an e-mail, order or invoice number or error code
    it contains, the device it names (not a negated one: "the TV, not the phone"), and for the choice
    fields the option it names when it names the field ("urgency: can wait")."""
    out: dict[str, str] = {}
    for e in entities:
        field = ENTITY_FIELDS.get(str(e.get("entity")))
        start = e.get("start")
        if field and e.get("value") and not (isinstance(start, int) and negated(text[:start])):
            out.setdefault(field, normalise(str(e.get("entity")), str(e["value"])))
    device = device_named(text)
    if device:
        out["product"] = device
    named = fields_named(text)
    for field in named:
        table = CHOICE_TABLES.get(field)
        value = match_choice(text, table) if table else None
        if value:
            out[field] = value
        elif field in REFERENCE_PATTERNS and field not in out:
            # "the order number is 48231 not 48213": the one value of that field the text does not negate
            values = [normalise(field, m.group(0)) for m in re.finditer(r"[\w-]*\d[\w-]*", text)
                      if not negated(text[:m.start()])]
            values = list(dict.fromkeys(v for v in values if re.fullmatch(REFERENCE_PATTERNS[field], v)))
            if len(values) == 1:
                out[field] = values[0]
    return out


class ActionCorrectSummary(Action):
    """Free text at the summary. A new value ("the e-mail is wrong, it is ...", "no, it's the TV not the
    phone") replaces the old one and the summary is shown again; a field named without a value ("the
    order number is wrong") is asked again; anything else gets the choice of fields."""

    def name(self) -> str:
        return "action_correct_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        latest = tracker.latest_message or {}
        text = str(latest.get("text") or "")
        lang = language_of(tracker)
        changes = corrections(text, list(latest.get("entities") or []))
        if changes:
            utter(dispatcher, tracker, domain, "utter_ticket_summary", summary=ticket_summary(tracker, lang, changes))
            return [*(SlotSet(k, v) for k, v in changes.items()), SlotSet("review", "confirm")]
        named = [f for f in fields_named(text) if f in FIELDS]
        if named:
            failures = dict(tracker.get_slot("validation_failures") or {})
            failures.pop(named[0], None)
            return [SlotSet(named[0], None), SlotSet("validation_failures", failures), SlotSet("review", None),
                    FollowupAction("problem_form")]
        return await ActionChooseField().run(dispatcher, tracker, domain)


# fields the bot offers to skip (their question has a "don't have it" button or says "skip")
SKIPPABLE = {"product": SKIPPED, "error_code": "none", "order_number": SKIPPED, "invoice_number": SKIPPED,
             "steps_tried": SKIPPED}


class ActionHandleFormCancel(AnswersDigressions, Action):
    """`cancel` during the form: words that look like "stop" are often something else. A valid answer to
    the question being asked ("it can wait") is taken; "skip" skips a field the bot offered to skip; a
    question ("how do I cancel my subscription?") is answered from the knowledge base and the form asks
    again. Otherwise the customer really wants to stop."""

    def name(self) -> str:
        return "action_handle_form_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        slot = str(tracker.get_slot("requested_slot"))
        text = str((tracker.latest_message or {}).get("text") or "")
        table = CHOICE_TABLES.get(slot)
        value = match_choice(text, table) if table else None
        if value:
            return [SlotSet(slot, value), SlotSet("form_cancel", "answer")]
        if slot in SKIPPABLE and is_one_of(text, SKIP_WORDS):
            return [SlotSet(slot, SKIPPABLE[slot]), SlotSet("form_cancel", "answer")]
        if is_question(text):
            shown = await self.digressions.kb_answer(dispatcher, tracker, domain)
            if shown is not None:
                return [*shown, SlotSet("form_cancel", "answer")]
        return [SlotSet("form_cancel", "stop")]

