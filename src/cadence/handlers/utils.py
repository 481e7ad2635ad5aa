"""Ignite's ``ignite.handlers.utils`` path: :func:`global_step_from_engine`.

Example:
    >>> from cadence.handlers.utils import global_step_from_engine
    >>> trainer = Engine(lambda e, b: None)
    >>> _ = trainer.run([0, 0], max_epochs=3)
    >>> global_step_from_engine(trainer)(None, Events.EPOCH_COMPLETED)
    3
"""

from cadence.engine import Engine, Events, State
from cadence.handlers.checkpoint import global_step_from_engine

__all__ = ["Engine", "Events", "State", "global_step_from_engine"]
