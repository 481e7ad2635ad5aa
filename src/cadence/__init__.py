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

# ``import cadence; cadence.distributed`` works in a fresh interpreter, as ``import ignite; ignite.distributed``
# does in Ignite; the subpackages are imported on first use, so ``import cadence`` stays cheap.
_SUBPACKAGES = frozenset(
    {"base", "contrib", "data", "distributed", "engine", "exceptions", "handlers", "loggers", "metrics", "utils"}
)


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
