"""Ignite's ``ignite.handlers.utils`` path: :func:`global_step_from_engine`.

Example:
    >>> from cadence.handlers.utils import global_step_from_engine
    >>> trainer = Engine(lambda e, b: None)
    >>> _ = trainer.run([0, 0], max_epochs=3)
    >>> global_step_from_engine(trainer)(None, Events.EPOCH_COMPLETED)
    3
"""

from cadence.engine import Engine as Engine  # Ignite's module has these too
from cadence.engine import Events as Events
from cadence.engine import State as State
from cadence.loggers.base import global_step_from_engine

__all__ = ["global_step_from_engine"]
