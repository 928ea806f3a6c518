"""Rasa NLU components built on blank spaCy pipelines (no downloaded models).

- `MultilingualSpacyTokenizer`: tokenises each message with ``spacy.blank(lang)`` for the message's language
  (from `LanguageDetector`, else the configured default) and adds lemmas from spaCy's lookup tables, so
  featurizers can use lemmas ("abgebucht"/"Abbuchung" variants, "charged"/"charge").
- `RulerEntityExtractor`: the spaCy entity ruler of `bot.entities` (order and invoice numbers, error codes,
  e-mails, ticket references, product names from the knowledge base's metadata).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.entities import EntityFinder
from bot.kb.analysis import pipeline
from bot.lemmas import lemma
from rasa_ext.component import TrainedComponent

logger = logging.getLogger(__name__)

LANGUAGE_KEY = "language"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class MultilingualSpacyTokenizer(Tokenizer):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "languages": ["de", "en", "da"],
            "default_language": "de",
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> MultilingualSpacyTokenizer:
        return cls(config)

    def _nlp(self, lang: str) -> Any:
        return pipeline(lang)

    def _language_of(self, message: Message) -> str:
        lang = message.get(LANGUAGE_KEY)
        if not lang:
            for entity in message.get(ENTITIES, []) or []:
                if entity.get("entity") == LANGUAGE_KEY:
                    lang = entity.get("value")
        return str(lang if lang in self._config["languages"] else self._config["default_language"])

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        lang = self._language_of(message)
        doc = self._nlp(lang)(text)
        tokens = [Token(t.text, t.idx, lemma=lemma(lang, t.text).lower()) for t in doc if not t.is_space]
        return list(self._apply_token_pattern(tokens))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class RulerEntityExtractor(TrainedComponent[List[str]]):
    """Adds ruler entities; products (its state) are read from the knowledge base at training time."""

    STATE_FILE = "products.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"kb_root": "kb_articles"}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 state: Optional[List[str]] = None) -> None:
        super().__init__(config, model_storage, resource, state)
        self._finder: Optional[EntityFinder] = None

    @property
    def finder(self) -> EntityFinder:
        if self._finder is None:
            self._finder = EntityFinder(self.state or [])
        return self._finder

    def train(self, training_data: TrainingData) -> Resource:
        return self.persist(sorted(products_from_kb(Path(self.config["kb_root"]))))

    @staticmethod
    def encode_state(state: List[str]) -> bytes:
        return json.dumps(state).encode()

    @staticmethod
    def decode_state(raw: bytes) -> List[str]:
        return list(json.loads(raw))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):
                continue
            entities = list(message.get(ENTITIES, []) or [])
            for found in self.finder.find(text):
                entities.append({"entity": found.entity, "value": found.value, "start": found.start,
                                 "end": found.end, "confidence": 1.0, "extractor": self.__class__.__name__})
            message.set(ENTITIES, entities, add_to_output=True)
        return messages


def products_from_kb(root: Path) -> set[str]:
    """Product names from the `products:` lists of every article the knowledge base serves."""
    from bot.kb.article import load_articles

    articles, _issues = load_articles(root, taxonomy=None)
    return {product for article in articles for product in article.products if len(product) > 1}
