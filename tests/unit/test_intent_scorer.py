"""The intent classifier's direct scoring (rasa_ext.classifier.LinearScorer) gives the trained model's own
``predict_proba`` over the stacked feature matrix, with and without the dense sentence block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_ext.classifier import LinearScorer, TfidfIntentClassifier

EXAMPLES = {
    "greet": ["hallo", "hello there", "hej med dig", "guten tag", "good morning", "hi"],
    "thanks": ["danke", "thank you so much", "mange tak", "vielen dank", "thanks a lot", "tak"],
    "describe_problem": ["my tv app crashes", "mein abo wurde zweimal abgebucht", "appen virker ikke",
                         "i cannot log in", "das passwort geht nicht", "min pakke er ikke kommet"],
    "request_human": ["i want a person", "ich will einen menschen", "jeg vil tale med en person",
                      "agent please", "mitarbeiter bitte", "a human please"],
}
QUERIES = ["hallo zusammen", "thanks!", "my stick crashes every evening", "ein mensch bitte", "?", "",
           "jeg vil gerne tale med nogen om min regning", "ok"]


class Featurizer(DenseFeaturizer):
    """Adds a fixed pseudo-random sentence vector per text (what the sentence encoder adds in the bot)."""

    def __init__(self) -> None:
        super().__init__("dense", DenseFeaturizer.get_default_config())

    @classmethod
    def validate_config(cls, config: dict[str, object]) -> None:
        pass

    def add(self, message: Message, dim: int) -> None:
        seed = sum(map(ord, str(message.get(TEXT)))) % 10_000
        vector = np.random.default_rng(seed).normal(size=dim)
        self.add_features_to_message(sequence=None, sentence=(vector / np.linalg.norm(vector)).reshape(1, -1),
                                     attribute=TEXT, message=message)


def trained(tmp_path: Path, dense_dim: int) -> TfidfIntentClassifier:
    featurizer = Featurizer()
    examples = []
    for intent, texts in EXAMPLES.items():
        for text in texts:
            message = Message({TEXT: text, "intent": intent})
            if dense_dim:
                featurizer.add(message, dense_dim)
            examples.append(message)
    config = {**TfidfIntentClassifier.get_default_config(), "use_lemmas": False, "dense_weight": 2.0}
    classifier = TfidfIntentClassifier.create(config, LocalModelStorage(tmp_path), Resource("clf"),
                                              ExecutionContext(GraphSchema({}), "test"))
    classifier.train(TrainingData(examples))
    return classifier


@pytest.mark.parametrize("dense_dim", [0, 16])
def test_direct_scores_are_predict_proba(tmp_path: Path, dense_dim: int) -> None:
    classifier = trained(tmp_path, dense_dim)
    model = classifier.state
    scorer = LinearScorer.of(model)
    assert scorer is not None
    featurizer = Featurizer()
    messages = [Message({TEXT: q}) for q in QUERIES]
    for message in messages:
        if dense_dim:
            featurizer.add(message, dense_dim)
    expected = model["classifier"].predict_proba(classifier._matrix(messages, model["features"], dense_dim))
    got = scorer.probabilities([str(m.get(TEXT)).lower() for m in messages], classifier._dense(messages, dense_dim))
    assert got.shape == expected.shape == (len(QUERIES), len(EXAMPLES))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    classifier.process(messages)
    for message, row in zip(messages, expected):
        assert message.get("intent")["name"] == model["classifier"].classes_[int(np.argmax(row))]
        assert message.get("intent")["confidence"] == pytest.approx(float(row.max()), abs=1e-12)


def test_a_two_intent_model_is_left_to_predict_proba(tmp_path: Path) -> None:
    classifier = trained(tmp_path, 0)
    model = dict(classifier.state)
    model["classifier"] = type(model["classifier"])().fit(
        classifier._matrix([Message({TEXT: t}) for t in ("a b", "c d")], model["features"], 0), ["x", "y"])
    assert LinearScorer.of(model) is None
