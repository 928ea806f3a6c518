"""The constructor, ``create``, ``load`` and persisting that every trained NLU component of ours shares:
each keeps one piece of trained state in one file of the model storage."""

from __future__ import annotations

import abc
import logging
from typing import Any, ClassVar, Dict, Generic, Optional, Text, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)

S = TypeVar("S")
C = TypeVar("C", bound="TrainedComponent[Any]")


class TrainedComponent(GraphComponent, Generic[S], abc.ABC):
    """A component whose trained state (``self.state``, None before training) lives in ``STATE_FILE``."""

    STATE_FILE: ClassVar[str]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 state: Optional[S] = None) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.state = state

    @classmethod
    def create(cls: type[C], config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> C:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls: type[C], config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> C:
        state = None
        try:
            with model_storage.read_from(resource) as directory:
                state = cls.decode_state((directory / cls.STATE_FILE).read_bytes())
        except (ValueError, FileNotFoundError):
            logger.warning("%s: no trained state in the model (%s)", cls.__name__, cls.STATE_FILE)
        return cls(config, model_storage, resource, state)

    def persist(self, state: S) -> Resource:
        """Keep ``state`` as this component's trained state, in memory and in the model storage."""
        self.state = state
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self.STATE_FILE).write_bytes(self.encode_state(state))
        return self._resource

    @staticmethod
    @abc.abstractmethod
    def encode_state(state: Any) -> bytes: ...

    @staticmethod
    @abc.abstractmethod
    def decode_state(raw: bytes) -> Any: ...
