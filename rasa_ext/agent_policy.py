"""Rasa policy: while a human agent owns the conversation, the bot stays quiet.

When the `agent_active` slot is set, every customer message is forwarded to the ticket
(`action_forward_to_agent`) instead of being answered; messages from the handoff service
(`agent_message`, `ticket_resolved`, `incident_resolved`) are left to the rules. Higher priority than RulePolicy.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.storage import ModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

FORWARD = "action_forward_to_agent"
PASS_THROUGH_INTENTS = frozenset({"agent_message", "ticket_resolved", "incident_resolved", "EXTERNAL_retry_ticket",
                                  "rate", "session_greet"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=False)
class AgentHandoverPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7, "slot": "agent_active"}

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if not tracker.get_slot(self.config["slot"]) or tracker.active_loop_name:
            return self._prediction(result)
        intent = tracker.latest_message.intent.get("name") if tracker.latest_message else None
        if tracker.latest_action_name == ACTION_LISTEN_NAME and intent not in PASS_THROUGH_INTENTS:
            result[domain.index_for_action(FORWARD)] = 1.0
        elif tracker.latest_action_name == FORWARD:
            result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        return self._prediction(result)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> AgentHandoverPolicy:
        return cls(config, model_storage, resource, execution_context)
