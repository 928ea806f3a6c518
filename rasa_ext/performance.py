"""Fixes for per-message costs inside the Rasa server (installed by our chat channels at start). Each
keeps Rasa's behaviour and only stops repeating work whose result cannot change:

- Rasa 3.6 validates every action server response with `jsonschema.validate(result, schema)`, which first
  re-validates the *schema* against its meta-schema: 24-28 ms of CPU per custom action on our machine
  (measured), more than the rest of the turn. We compile the validator once; the response is validated
  against the same schema with the same error message as before.
- Every event read from the tracker store is resolved to its class by `Event.resolve_by_type`, which
  walks all subclasses of `Event` (with `inspect.isabstract` on each) for every event: about 9 % of the
  Rasa server's samples under load (py-spy, 16 concurrent conversations). The classes are looked up once
  per type name and kept (the set of event classes only grows; a name is never given to another class).
- Every graph run (the NLU and the policies, several per message) recomputed the minimal graph for its
  targets and rebuilt the dask task dict from it, and formatted its inputs (the whole message or tracker)
  into a debug line even with debug logging off: about 7 %. The task dict is built once per set of
  targets and copied for each run; the debug line is formatted only when it is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

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
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions import action as rasa_action

    original = rasa_action.RemoteAction._validate_action_result
    validator: Optional[Any] = None

    def validate_action_result(self: rasa_action.RemoteAction, result: Dict[Text, Any]) -> bool:
        nonlocal validator
        if validator is None:
            schema = self.action_response_format_spec()
            cls = validator_for(schema)
            cls.check_schema(schema)
            validator = cls(schema)
        try:
            validator.validate(result)
            return True
        except ValidationError:
            return bool(original(self, result))  # Rasa's own path builds and logs its detailed error

    rasa_action.RemoteAction._validate_action_result = validate_action_result
    logger.info("installed the cached action-response validator")


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
    import dask
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner import dask as rasa_dask

    runner_logger = rasa_dask.logger

    def run(self: rasa_dask.DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        graphs: Dict[Tuple[Text, ...], Dict[Text, Any]] = self.__dict__.setdefault("_frontdoor_graphs", {})
        key = tuple(run_targets)
        graph = graphs.get(key)
        if graph is None:
            graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
            graphs[key] = graph
        run_graph = dict(graph)
        if inputs:
            self._add_inputs_to_graph(inputs, run_graph)
        if runner_logger.isEnabledFor(logging.DEBUG):
            runner_logger.debug(f"Running graph with inputs: {inputs}, targets: {targets} "
                                f"and {self._execution_context}.")
        try:
            return dict(dask.get(run_graph, run_targets))  # type: ignore[attr-defined]
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    rasa_dask.DaskGraphRunner.run = run
