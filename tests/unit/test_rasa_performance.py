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


class Join(GraphComponent):
    """A graph node that lists what it is given (to see which values reach it)."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.tag = config["tag"]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: Any, resource: Any,
               execution_context: Any) -> Join:
        return cls(config)

    def join(self, **values: Any) -> List[Any]:
        return [self.tag, *(values[k] for k in sorted(values))]


def test_graph_nodes_run_after_what_they_need_and_share_one_output(tmp_path: Path) -> None:
    calls: List[str] = []

    class Counted(Join):
        def join(self, **values: Any) -> List[Any]:
            calls.append(self.tag)
            return super().join(**values)

    def node(tag: str, needs: Dict[str, str], target: bool = False) -> SchemaNode:
        return SchemaNode(needs=needs, uses=Counted, constructor_name="create", fn="join", config={"tag": tag},
                          is_target=target)

    # a diamond: base feeds left and right, both feed top; side is a second target that needs base only
    schema = GraphSchema({
        "top": node("top", {"a": "left", "b": "right"}, True),
        "left": node("left", {"x": "base"}),
        "right": node("right", {"x": "base", "y": "__other__"}),
        "base": node("base", {"m": "__message__"}),
        "side": node("side", {"x": "base"}, True),
    })
    runner = DaskGraphRunner(schema, LocalModelStorage(tmp_path), ExecutionContext(schema), [])
    out = runner.run(inputs={"__message__": "hi", "__other__": 3})
    assert calls.count("base") == 1 and calls.index("base") < calls.index("left") < calls.index("top")
    assert calls.index("right") < calls.index("top") and len(calls) == 5
    assert out["side"] == ["side", ["base", "hi"]]
    assert out["top"] == ["top", ["left", ["base", "hi"]], ["right", ["base", "hi"], 3]]
    calls.clear()
    assert runner.run(inputs={"__message__": "again", "__other__": 4}, targets=["side"]) == {
        "side": ["side", ["base", "again"]]}
    assert calls == ["base", "side"]  # only what the target needs


def test_an_input_named_like_a_node_is_refused_as_before(tmp_path: Path) -> None:
    from rasa.engine.exceptions import GraphRunError

    schema = _schema()
    runner = DaskGraphRunner(schema, LocalModelStorage(tmp_path), ExecutionContext(schema), [])
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={"__input__": "one"})


def _event_corpus() -> List[Any]:
    """Events as Rasa writes them, and variations of them that the schema must refuse or accept."""
    import random

    from rasa.shared.core.events import (
        ActionExecutionRejected, ActiveLoop, AgentUttered, AllSlotsReset, BotUttered, ConversationPaused,
        ConversationResumed, EntitiesAdded, FollowupAction, LoopInterrupted, ReminderCancelled,
        ReminderScheduled, Restarted, SessionStarted, StoryExported, UserUtteranceReverted, ActionReverted,
    )
    from datetime import datetime

    real = [
        UserUttered("hallo", {"name": "greet", "confidence": 0.9},
                    [{"entity": "product", "value": "Stick", "start": 0, "end": 5}]).as_dict(),
        ActionExecuted("action_answer_from_kb", policy="RulePolicy", confidence=1.0).as_dict(),
        SlotSet("language", "de").as_dict(), SlotSet("kb_articles_shown", [{"id": "a"}]).as_dict(),
        BotUttered("Hallo!", {"buttons": []}).as_dict(), ActiveLoop("problem_form").as_dict(),
        ActiveLoop(None).as_dict(), FollowupAction("action_listen").as_dict(), Restarted().as_dict(),
        AllSlotsReset().as_dict(), ConversationPaused().as_dict(), ConversationResumed().as_dict(),
        UserUtteranceReverted().as_dict(), ActionReverted().as_dict(), StoryExported().as_dict(),
        SessionStarted().as_dict(), AgentUttered("hi").as_dict(), LoopInterrupted(True).as_dict(),
        ActionExecutionRejected("x").as_dict(), EntitiesAdded([{"entity": "e", "value": 1}]).as_dict(),
        ReminderCancelled(name="r").as_dict(),
        ReminderScheduled("retry", datetime(2030, 1, 1), name="r").as_dict(),
    ]
    odd: List[Any] = [None, 1, "slot", [], {}, {"event": 3}, {"event": "no_such_kind"}, {"event": "slot"},
                      {"event": "slot", "name": "x"}, {"event": "slot", "value": 1}, {"event": "slot", "name": 1,
                                                                                        "value": 1},
                      {"event": "entities"}, {"event": "entities", "entities": [{"entity": "e"}]},
                      {"event": "user", "text": 5}, {"event": "user", "parse_data": {"intent": {"name": 3}}},
                      {"event": "action", "hide_rule_turn": "yes"}, {"event": "bot", "timestamp": "now"},
                      {"event": "bot", "metadata": []}, {"event": "bot", "timestamp": None, "metadata": None}]
    rng = random.Random(20261206)
    fields = ["event", "name", "value", "text", "timestamp", "metadata", "entities", "policy", "confidence"]
    junk: List[Any] = [None, True, 0, 1.5, "", "x", [], {}, [1], {"a": 1}]
    mutated = []
    for _ in range(400):
        event = dict(rng.choice(real))
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(fields)
            if rng.random() < 0.3:
                event.pop(name, None)
            else:
                event[name] = rng.choice(junk + [e["event"] for e in real])
        mutated.append(event)
    return real + odd + mutated


def test_the_response_validator_accepts_exactly_what_rasas_schema_accepts() -> None:
    import random

    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    full = validator_for(schema)(schema)
    fast = performance.response_validator(schema)
    events = _event_corpus()
    rng = random.Random(7)
    responses: List[Any] = [[], [{"text": "hi"}], [{"template": "utter_x"}], ["text"], {"text": "hi"}, None]
    results: List[Any] = [None, [], "x", {}, {"events": None}, {"events": {}}, {"responses": None}]
    results += [{"events": [event]} for event in events]
    results += [{"events": rng.sample(events, 3), "responses": rng.choice(responses)} for _ in range(300)]
    verdicts = [(full.is_valid(r), fast(r)) for r in results]
    assert all(a == b for a, b in verdicts), [r for r, (a, b) in zip(results, verdicts) if a != b][:3]
    assert sum(a for a, _ in verdicts) >= 40 and sum(not a for a, _ in verdicts) >= 200  # both kinds tried


def test_a_schema_of_another_shape_gets_the_full_validator() -> None:
    schema = {"type": "object", "properties": {"events": {"type": "array"}}, "required": ["events"]}
    fast = performance.response_validator(schema)
    assert fast({"events": []}) and not fast({}) and not fast({"events": {}})
