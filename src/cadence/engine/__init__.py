"""The engine core: :class:`Engine`, :class:`State` and :class:`Events`."""

from cadence.engine.deterministic import DeterministicEngine
from cadence.engine.dispatch import EpochResumable
from cadence.engine.engine import Engine
from cadence.engine.events import (
    CallableEventWithFilter,
    EventEnum,
    EventFilter,
    Events,
    EventsList,
    RemovableEventHandle,
)
from cadence.engine.state import State
from cadence.engine.supervised import (
    create_supervised_evaluator,
    create_supervised_trainer,
    supervised_evaluation_step,
    supervised_evaluation_step_amp,
    supervised_training_step,
    supervised_training_step_amp,
    supervised_training_step_apex,
    supervised_training_step_tpu,
)

__all__ = [
    "CallableEventWithFilter",
    "DeterministicEngine",
    "Engine",
    "EpochResumable",
    "EventEnum",
    "EventFilter",
    "Events",
    "EventsList",
    "RemovableEventHandle",
    "State",
    "create_supervised_evaluator",
    "create_supervised_trainer",
    "supervised_evaluation_step",
    "supervised_evaluation_step_amp",
    "supervised_training_step",
    "supervised_training_step_amp",
    "supervised_training_step_apex",
    "supervised_training_step_tpu",
]
