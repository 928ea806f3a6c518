"""Rasa NLU component: each message's sentence embedding (multilingual-e5-small, `bot.kb.encoder`) as
dense sentence features for the intent classifier, and as compact text in the parse data
(``text_embedding``) so the action server searches the knowledge base with it instead of encoding the
message a second time.

Training examples are encoded through the on-disk embedding cache (a retrain encodes only new examples);
customer messages are encoded directly and never written to disk. Button payloads and intents sent
directly ("/affirm") are not encoded.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.kb.encoder import CachedEncoder, E5Encoder, Encoder, cache_folder, encode_vector

logger = logging.getLogger(__name__)

EMBEDDING_KEY = "text_embedding"  # in the parse data: base64 float16, see bot.kb.encoder.encode_vector


class ShortMessageCache:
    """Embeddings of short messages kept in memory (least recently used first out). Customers' short
    messages repeat across conversations ("hallo", "danke", "nein", "hilft nicht", "agent bitte"), and
    encoding is the largest part of a message's cost in the Rasa process (30 % of its CPU under load, by a
    py-spy profile). Only messages of at most ``max_words`` words without digits or "@" (no order numbers,
    codes or addresses) are kept, never on disk."""

    def __init__(self, max_entries: int = 4096, max_words: int = 4) -> None:
        self.max_entries = max_entries
        self.max_words = max_words
        self._vectors: "OrderedDict[str, np.ndarray[Any, Any]]" = OrderedDict()

    def keeps(self, text: str) -> bool:
        return self.max_entries > 0 and len(text.split()) <= self.max_words and not any(c.isdigit() or c == "@" for c in text)

    def encode_all(self, texts: List[str], encoder: Encoder) -> List[np.ndarray[Any, Any]]:
        out: List[Optional[np.ndarray[Any, Any]]] = [self._vectors.get(t) for t in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            fresh = encoder.encode([texts[i] for i in missing])
            for i, vector in zip(missing, fresh):
                out[i] = vector
                if self.keeps(texts[i]):
                    self._vectors[texts[i]] = vector
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)
        for text in texts:
            if text in self._vectors:
                self._vectors.move_to_end(text)
        return [v for v in out if v is not None]


def encodable(message: Message) -> str:
    text = str(message.get(TEXT) or "")
    return "" if not text.strip() or text.startswith("/") else text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 256}

    def __init__(self, config: Dict[Text, Any], name: Text, encoder: Optional[Encoder] = None) -> None:
        super().__init__(name, config)
        self._encoder = encoder

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    @property
    def _short(self) -> ShortMessageCache:
        if getattr(self, "_short_cache", None) is None:
            # FRONTDOOR_SHORT_MESSAGE_CACHE=0 turns it off (to measure without it)
            size = int(os.environ.get("FRONTDOOR_SHORT_MESSAGE_CACHE", "4096") or 0)
            self._short_cache = ShortMessageCache(max_entries=size, max_words=4 if size > 0 else 0)
        return self._short_cache

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = E5Encoder()
        return self._encoder

    def _add(self, message: Message, vector: np.ndarray[Any, Any]) -> None:
        self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT,
                                     message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [(m, t) for m in training_data.training_examples if (t := encodable(m))]
        cached = CachedEncoder(self.encoder, cache_folder(os.environ))
        size = int(self._config["batch_size"])
        for start in range(0, len(examples), size):
            chunk = examples[start:start + size]
            vectors = cached.encode([t for _, t in chunk])
            for (message, _), vector in zip(chunk, vectors):
                self._add(message, vector)
        logger.info("sentence embeddings for %d training examples (cache: %s)", len(examples), cached.cache.path)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [(m, t) for m in messages if (t := encodable(m))]
        if not todo:
            return messages
        vectors = self._short.encode_all([t for _, t in todo], self.encoder)
        for (message, _), vector in zip(todo, vectors):
            self._add(message, vector)
            message.set(EMBEDDING_KEY, encode_vector(vector), add_to_output=True)
        return messages
