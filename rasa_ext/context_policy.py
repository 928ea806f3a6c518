"""Rasa policy: the next action for messages whose meaning depends on where the conversation is.

The rules map intents to actions; some messages mean something else in context, and this policy (above
the rules, below the agent handover) decides those:

- at the summary, anything typed other than yes/no buttons is a correction ("the e-mail is wrong, it is
  ...", "no, it's the TV not the phone") -> ``action_correct_summary``;
- a pasted secret ``S-...`` code alone means "show me that ticket" -> ``action_ticket_status``;
- right after a ticket was opened in this conversation, "how long will it take?", "where am I in the
  queue?", "anything new?" are about it -> ``action_ticket_status``; more about the problem ("I forgot to
  add ..."), a complaint or "a person, please" -> ``action_ticket_followup`` (added to the ticket; a clear
  question on another topic is answered);
- right after an article with its did-it-help buttons, a typed "no" / "that's useless" / "yes, thanks"
  is that feedback -> ``action_kb_feedback``, and so is a statement that it did not solve the problem
  whatever the classifier made of it ("hat nicht geholfen, ton ist immer noch weg", "tried that
  already"); "can't you just do it for me?" asks for a person -> ``action_start_handoff``, the form;
- "how long will it take?" before any ticket -> ``action_ticket_status`` (the promise the request would
  get now);
- told of a known problem (an incident), "my problem is a different one" typed instead of the button ->
  ``action_answer_from_kb`` (which unlinks and helps with the problem as described);
- after the knowledge-base actions, the next step follows from ``kb_result`` whatever the intent was.
Inside the form the form's own validation reads digressions (actions/digression.py).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue import asks_status, asks_to_do_it, says_not_helped, says_other_problem

KB_ACTIONS = ("action_answer_from_kb", "action_kb_feedback")
AFTER_KB = {"answered": ACTION_LISTEN_NAME, "ambiguous": ACTION_LISTEN_NAME, "unclear": ACTION_LISTEN_NAME,
            "declined": ACTION_LISTEN_NAME, "none": "problem_form", "offer_human": "utter_offer_human",
            "incident": ACTION_LISTEN_NAME}
LISTEN_AFTER = frozenset({"action_ticket_status", "action_correct_summary",
                          "action_ticket_followup", "action_create_ticket"})
SUMMARY_SHOWN = frozenset({"action_review_ticket", "action_correct_summary"})
ARTICLE_SHOWN = frozenset({"action_answer_from_kb", "action_ticket_followup"})
TYPED_FEEDBACK = frozenset({"affirm", "thanks", "deny", "complaint"})
# messages the handoff service and the website send: their rules decide
SYSTEM_INTENTS = frozenset({"agent_message", "ticket_resolved", "incident_resolved", "EXTERNAL_retry_ticket",
                            "session_greet", "rate"})
SUMMARY_ANSWERS = frozenset({"affirm", "correct_field", "cancel", "request_human", "complaint"})
TICKET_FOLLOWUPS = frozenset({"describe_problem", "nlu_fallback", "complaint", "request_human",
                              "feedback_not_helped", "chitchat"})


def decide(intent: str, text: str, entities: List[Dict[str, Any]], slots: Dict[str, Any], latest_action: str,
           active_loop: Optional[str], previous_action: str = "") -> Optional[str]:
    """The action this policy predicts, or None to leave it to the other policies (pure: unit-tested).
    ``previous_action``: the bot's last action before it listened for this message."""
    if active_loop:
        return None
    if latest_action in KB_ACTIONS:
        return AFTER_KB.get(str(slots.get("kb_result")))
    if latest_action in LISTEN_AFTER:
        return str(ACTION_LISTEN_NAME)
    if latest_action == "action_start_handoff":
        return "problem_form"
    if latest_action != ACTION_LISTEN_NAME or intent in SYSTEM_INTENTS or slots.get("agent_active"):
        return None
    typed = not text.startswith("/")
    if (previous_action in SUMMARY_SHOWN and slots.get("review") == "confirm" and typed
            and intent not in SUMMARY_ANSWERS):
        return "action_correct_summary"
    if any(e.get("entity") == "ticket_secret" for e in entities):
        return "action_ticket_status"
    if (previous_action in ARTICLE_SHOWN and slots.get("kb_result") == "answered" and typed
            and intent in TYPED_FEEDBACK):
        return "action_kb_feedback"
    if (previous_action in ARTICLE_SHOWN and slots.get("kb_result") in ("answered", "ambiguous") and typed
            and not slots.get("ticket_open") and intent not in ("request_human", "feedback_helped")):
        if asks_to_do_it(text):
            return "action_start_handoff"
        if says_not_helped(text):
            return "action_kb_feedback"
    if intent in ("describe_problem", "nlu_fallback") and typed and asks_status(text):
        # "... her mail is x@y.dk - how far along are you with it?": a status question first (only for
        # someone who may see it)
        return "action_ticket_status"
    if slots.get("incident") and typed and says_other_problem(text):
        # told of a known problem, the customer says theirs is another one: unlinked, and helped as usual
        return "action_answer_from_kb"
    if slots.get("ticket_open") and slots.get("ticket_reference"):
        if intent in ("ask_wait_time", "ticket_status"):
            return "action_ticket_status"
        answered = slots.get("kb_result") == "answered" and intent in ("feedback_helped", "feedback_not_helped")
        if intent in TICKET_FOLLOWUPS and typed and not answered:
            return "action_ticket_followup"
        return None
    if intent == "ask_wait_time":
        return "action_ticket_status"
    return None


def previous_bot_action(tracker: DialogueStateTracker) -> str:
    """The last action before the bot started listening for the latest message (scanned from the end)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted) and event.action_name and event.action_name != ACTION_LISTEN_NAME:
            return str(event.action_name)
    return ""


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=False)
class ContextPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        latest = tracker.latest_message
        previous = previous_bot_action(tracker)
        action = decide(
            intent=str((latest.intent or {}).get("name") or "") if latest else "",
            text=str(latest.text or "") if latest else "",
            entities=list(latest.entities or []) if latest else [],
            slots={name: slot.value for name, slot in tracker.slots.items()},
            latest_action=str(tracker.latest_action_name or ""),
            active_loop=tracker.active_loop_name,
            previous_action=previous,
        )
        if action is not None and action in domain.action_names_or_texts:
            result[domain.index_for_action(action)] = 1.0
        return self._prediction(result)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ContextPolicy:
        return cls(config, model_storage, resource, execution_context)
