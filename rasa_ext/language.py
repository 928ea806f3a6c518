"""Rasa NLU component: detects the message's language and emits it as the `language` entity.

The `language` slot is mapped from that entity, so a customer who switches language mid-conversation
gets answers in the new one; short neutral messages emit nothing and the slot keeps its value.
Trained on the NLU files named in its config (`corpora: {de: [data/nlu/de.yml], ...}`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lang import LanguageIdentifier
from rasa_ext.component import TrainedComponent

ENTITY = "language"
GUESS = "language_guess"  # likeliest language even without the evidence a switch needs


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class LanguageDetector(TrainedComponent[LanguageIdentifier]):
    STATE_FILE = "language.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"corpora": {}, "min_margin": 1.0}

    def train(self, training_data: TrainingData) -> Resource:
        corpora: Dict[str, List[str]] = {}
        for lang, paths in self.config["corpora"].items():
            texts: List[str] = []
            for path in [paths] if isinstance(paths, str) else paths:
                if Path(path).exists():
                    texts.extend(example.get(TEXT) for example in load_data(path).training_examples)
            corpora[lang] = texts
        identifier = LanguageIdentifier.train(corpora)
        identifier.min_margin = float(self.config["min_margin"])
        return self.persist(identifier)

    @staticmethod
    def encode_state(state: LanguageIdentifier) -> bytes:
        return json.dumps(state.to_dict()).encode()

    @staticmethod
    def decode_state(raw: bytes) -> LanguageIdentifier:
        return LanguageIdentifier.from_dict(json.loads(raw))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Label each training example with its language so the tokenizer picks the right pipeline."""
        if self.state is not None:
            for example in training_data.training_examples:
                lang = self.state.detect(example.get(TEXT) or "")
                if lang:
                    example.set(ENTITY, lang)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self.state is None:
            return messages
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue  # button payloads and intents sent directly
            guess, lang = self.state.identify(text)
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
