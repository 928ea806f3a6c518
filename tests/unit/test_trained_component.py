"""The shared constructor/create/load/persist of our trained NLU components (rasa_ext/component.py), with
Rasa's real model storage: what one component persists, the loaded one has; nothing stored is None."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource

from bot.lang import LanguageIdentifier
from rasa_ext.language import LanguageDetector
from rasa_ext.spacy_components import RulerEntityExtractor


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def test_what_a_component_persists_the_loaded_one_has(storage: LocalModelStorage) -> None:
    resource = Resource("ruler")
    ruler = RulerEntityExtractor.create(RulerEntityExtractor.get_default_config(), storage, resource, context())
    assert ruler.state is None
    ruler.persist(["Smart TV app", "Streamly Stick"])
    loaded = RulerEntityExtractor.load({}, storage, resource, context())
    assert loaded.state == ["Smart TV app", "Streamly Stick"]
    assert loaded.finder is not None

    identifier = LanguageIdentifier.train({"de": ["Guten Tag, mein Abo ist weg"], "en": ["Hello, my plan is gone"],
                                           "da": ["Hej, mit abonnement er væk"]})
    detector = LanguageDetector.create(LanguageDetector.get_default_config(), storage, Resource("lang"), context())
    detector.persist(identifier)
    again = LanguageDetector.load({}, storage, Resource("lang"), context())
    assert again.state is not None and again.state.to_dict() == identifier.to_dict()


def test_a_component_with_nothing_stored_loads_without_state(storage: LocalModelStorage,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    loaded = LanguageDetector.load({}, storage, Resource("never-trained"), context())
    assert loaded.state is None
    assert "no trained state" in caplog.text
