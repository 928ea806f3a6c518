"""Rasa NLU component: detects the message's language and emits it as the `language` entity.

The `language` slot is mapped from that entity, so a customer who switches language mid-conversation
gets answers in the new one; short neutral messages emit nothing and the slot keeps its value.
Trained on the NLU files named in its config (`corpora: {de: [data/nlu/de.yml], ...}`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lang import LanguageIdentifier

ENTITY = "language"
GUESS = "language_guess"  # likeliest language even without the evidence a switch needs


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class LanguageDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"corpora": {}, "min_margin": 1.0}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 identifier: Optional[LanguageIdentifier] = None) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.identifier = identifier

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LanguageDetector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        corpora: Dict[str, List[str]] = {}
        for lang, paths in self.config["corpora"].items():
            texts: List[str] = []
            for path in [paths] if isinstance(paths, str) else paths:
                if Path(path).exists():
                    texts.extend(example.get(TEXT) for example in load_data(path).training_examples)
            corpora[lang] = texts
        self.identifier = LanguageIdentifier.train(corpora)
        self.identifier.min_margin = float(self.config["min_margin"])
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "language.json").write_text(json.dumps(self.identifier.to_dict()))
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LanguageDetector:
        identifier = None
        try:
            with model_storage.read_from(resource) as directory:
                identifier = LanguageIdentifier.from_dict(json.loads((directory / "language.json").read_text()))
        except (ValueError, FileNotFoundError):
            pass
        return cls(config, model_storage, resource, identifier)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Label each training example with its language so the tokenizer picks the right pipeline."""
        if self.identifier is not None:
            for example in training_data.training_examples:
                lang = self.identifier.detect(example.get(TEXT) or "")
                if lang:
                    example.set(ENTITY, lang)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self.identifier is None:
            return messages
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue  # button payloads and intents sent directly
            guess, lang = self.identifier.identify(text)
            if guess:
                message.set(GUESS, guess, add_to_output=True)
            if lang is None:
                continue
            message.set(ENTITY, lang)
            entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != ENTITY]
            entities.append({"entity": ENTITY, "value": lang, "start": 0, "end": len(text),
                             "confidence": 1.0, "extractor": self.__class__.__name__})
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
