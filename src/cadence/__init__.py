"""cadence: a fast, Ignite-compatible engine for PyTorch training and evaluation loops.

Example:
    >>> from cadence import Engine, Events
    >>> engine = Engine(lambda engine, batch: batch)
    >>> engine.run([1, 2, 3]).output
    3
"""

from cadence._version import __version__
from cadence.engine import (
    CallableEventWithFilter,
    DeterministicEngine,
    Engine,
    EventEnum,
    EventFilter,
    Events,
    EventsList,
    RemovableEventHandle,
    State,
    create_supervised_evaluator,
    create_supervised_trainer,
)

__all__ = [
    "CallableEventWithFilter",
    "DeterministicEngine",
    "Engine",
    "EventEnum",
    "EventFilter",
    "Events",
    "EventsList",
    "RemovableEventHandle",
    "State",
    "create_supervised_evaluator",
    "create_supervised_trainer",
    "__version__",
]
