"""Fixes for per-message costs inside the Rasa server (installed by our chat channels at start). Each
keeps Rasa's behaviour and only stops repeating work whose result cannot change:

- Rasa 3.6 validates every action server response with `jsonschema.validate(result, schema)`, which first
  re-validates the *schema* against its meta-schema: 24-28 ms of CPU per custom action on our machine
  (measured), more than the rest of the turn. We compile the validators once. The schema's ``oneOf`` of 23
  event kinds made jsonschema try every kind for every event and build an error for each of the 22 that do
  not fit (still 5-10 % of the server's samples under load); each kind is fixed by its ``event`` name
  (a ``const``), so an event is checked against the common part and its own kind only, which accepts
  exactly what the ``oneOf`` accepts (the schema's shape is checked at install, else the full validator
  runs). A response that fails goes through Rasa's own path, with its error message.
- Every event read from the tracker store is resolved to its class by `Event.resolve_by_type`, which
  walks all subclasses of `Event` (with `inspect.isabstract` on each) for every event: about 9 % of the
  Rasa server's samples under load (py-spy, 16 concurrent conversations). The classes are looked up once
  per type name and kept (the set of event classes only grows; a name is never given to another class).
- Every graph run (the NLU and the policies, several per message) recomputed the minimal graph for its
  targets and rebuilt the dask task dict from it, and formatted its inputs (the whole message or tracker)
  into a debug line even with debug logging off: about 7 %. The task dict and the order of its nodes are
  built once per set of targets; the debug line is formatted only when it is logged. The nodes then run
  one after the other in that order, as ``dask.get`` (dask's synchronous scheduler, which Rasa calls) runs
  them, without its per-run scheduling (ordering, dependency maps, a task queue: about 4 %).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

logger = logging.getLogger(__name__)

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _install_validator()
    _install_event_types()
    _install_graph_runner()
    _installed = True


def _install_validator() -> None:
    from rasa.core.actions import action as rasa_action

    original = rasa_action.RemoteAction._validate_action_result
    validator: Optional[Callable[[Any], bool]] = None

    def validate_action_result(self: rasa_action.RemoteAction, result: Dict[Text, Any]) -> bool:
        nonlocal validator
        if validator is None:
            validator = response_validator(self.action_response_format_spec())
        if validator(result):
            return True
        return bool(original(self, result))  # Rasa's own path builds and logs its detailed error

    rasa_action.RemoteAction._validate_action_result = validate_action_result
    logger.info("installed the cached action-response validator")


def response_validator(schema: Dict[Text, Any]) -> Callable[[Any], bool]:
    """``is_valid(result)`` for Rasa's action-response schema: the same answer as the full jsonschema
    validator of ``schema``, checking each event against the common event schema and the one ``oneOf``
    kind its ``event`` name selects. A schema of another shape gets the full validator."""
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    full = cls(schema)
    try:
        properties = schema["properties"]
        events, responses = properties["events"], properties["responses"]
        event = events["items"]
        shaped = (set(schema) == {"type", "properties"} and schema["type"] == "object"
                  and set(properties) == {"events", "responses"} and set(events) == {"type", "items"}
                  and events["type"] == "array" and set(event) == {"type", "properties", "required", "oneOf"}
                  and event["type"] == "object" and "event" in event["required"]
                  and event["properties"]["event"] == {"type": "string"})
        kinds: Dict[str, Any] = {}
        for kind in event["oneOf"] if shaped else []:
            name = kind["properties"]["event"]["const"]
            if not isinstance(name, str) or name in kinds:
                shaped = False
            kinds[name] = cls(kind)
    except (KeyError, TypeError):
        shaped = False
    if not shaped:
        return full.is_valid  # type: ignore[no-any-return]
    common = cls({key: value for key, value in event.items() if key != "oneOf"})
    responses_valid = cls(responses).is_valid

    def is_valid(result: Any) -> bool:
        if not isinstance(result, dict):
            return False
        if "responses" in result and not responses_valid(result["responses"]):
            return False
        if "events" not in result:
            return True
        items = result["events"]
        if not isinstance(items, list):
            return False
        for item in items:
            # the common part makes ``event`` a string; a kind whose const differs cannot match it, so
            # "exactly one of the kinds" is "the kind of that name"
            if not common.is_valid(item):
                return False
            kind = kinds.get(item["event"])
            if kind is None or not kind.is_valid(item):
                return False
        return True

    return is_valid


def _install_event_types() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    known: Dict[Text, Any] = {}

    def resolve_by_type(type_name: Text, default: Optional[Any] = None) -> Optional[Any]:
        hit = known.get(type_name)
        if hit is not None:
            return hit
        try:
            found = original(type_name, None) if type_name != "topic" else None
        except ValueError:  # no such event class
            found = None
        if found is not None:
            known[type_name] = found
            return found
        return original(type_name, default)  # Rasa's own answer for unknown names (default or error)

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _install_graph_runner() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner import dask as rasa_dask

    runner_logger = rasa_dask.logger

    def run(self: rasa_dask.DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        plans: Dict[Tuple[Text, ...], Tuple[Dict[Text, Any], List[Text]]] = self.__dict__.setdefault(
            "_frontdoor_graphs", {})
        key = tuple(run_targets)
        plan = plans.get(key)
        if plan is None:
            graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
            plan = plans[key] = (graph, run_order(graph, run_targets))
        graph, order = plan
        given: Dict[Text, Any] = {}
        if inputs:
            self._add_inputs_to_graph(inputs, {**graph})  # Rasa's check: no input named like a node
            given = {name: (name, value) for name, value in inputs.items()}
        if runner_logger.isEnabledFor(logging.DEBUG):
            runner_logger.debug(f"Running graph with inputs: {inputs}, targets: {targets} "
                                f"and {self._execution_context}.")
        try:
            return dict(execute(graph, order, given, run_targets))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    rasa_dask.DaskGraphRunner.run = run


def run_order(graph: Dict[Text, Any], targets: List[Text]) -> List[Text]:
    """The nodes the targets need, each after the nodes it needs (the graph is acyclic: Rasa checks)."""
    order: List[Text] = []
    placed: set[Text] = set()

    def place(name: Text) -> None:
        if name in placed or name not in graph:
            return
        placed.add(name)
        for need in graph[name][1:]:
            if isinstance(need, str):
                place(need)
        order.append(name)

    for target in targets:
        place(target)
    return order


def execute(graph: Dict[Text, Any], order: List[Text], given: Dict[Text, Any], targets: List[Text]) -> List[Any]:
    """Runs each node of ``order`` on the outputs of the nodes it needs, as dask's synchronous scheduler
    does: an argument that names a node gets its output, one that names an input gets the input's
    ``(name, value)`` entry (what Rasa puts in the dask graph), anything else is passed as it is."""
    done: Dict[Text, Any] = {}

    def value(arg: Any) -> Any:
        if not isinstance(arg, str):
            return arg
        return done[arg] if arg in done else given.get(arg, arg)

    for name in order:
        node, *needs = graph[name]
        done[name] = node(*[value(n) for n in needs])
    return [value(t) for t in targets]
