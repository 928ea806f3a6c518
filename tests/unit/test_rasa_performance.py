"""The Rasa-process fixes of `rasa_ext.performance` keep Rasa's answers (issue 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Text

import pytest
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from rasa_ext import performance


class Add(GraphComponent):
    """A graph node that adds its config's number to its input's (or to the number it is given)."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.number = config["number"]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: Any, resource: Any,
               execution_context: Any) -> Add:
        return cls(config)

    def add(self, value: int) -> int:
        return value + self.number


def _schema() -> GraphSchema:
    return GraphSchema({
        "one": SchemaNode(needs={"value": "__input__"}, uses=Add, constructor_name="create", fn="add",
                          config={"number": 1}),
        "ten": SchemaNode(needs={"value": "one"}, uses=Add, constructor_name="create", fn="add",
                          config={"number": 10}, is_target=True),
        "hundred": SchemaNode(needs={"value": "__input__"}, uses=Add, constructor_name="create", fn="add",
                              config={"number": 100}, is_target=True),
    })


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    performance.install()


def test_event_classes_resolve_as_before() -> None:
    for cls in all_subclasses(Event):
        assert Event.resolve_by_type(cls.type_name) is cls
        assert Event.resolve_by_type(cls.type_name) is cls  # the cached answer
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no-such-event'"):
        Event.resolve_by_type("no-such-event")
    restored = Event.from_parameters({"event": "slot", "name": "language", "value": "da"})
    assert restored == SlotSet("language", "da")


def test_graph_runs_give_each_run_its_own_inputs(tmp_path: Path) -> None:
    schema = _schema()
    runner = DaskGraphRunner(schema, LocalModelStorage(tmp_path), ExecutionContext(schema), [])
    results: List[Dict[Text, Any]] = []
    for value in (0, 5, 7):
        results.append(runner.run(inputs={"__input__": value}, targets=["ten"]))
        results.append(runner.run(inputs={"__input__": value}))  # all targets
    assert results == [{"ten": 11}, {"ten": 11, "hundred": 100},
                       {"ten": 16}, {"ten": 16, "hundred": 105},
                       {"ten": 18}, {"ten": 18, "hundred": 107}]
    assert len(runner.__dict__["_frontdoor_graphs"]) == 2  # one task graph per set of targets
