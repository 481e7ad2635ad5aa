"""Ignite's ``ignite.handlers.time_limit`` path: :class:`TimeLimit` (defined in :mod:`cadence.handlers.timing`).

Example:
    >>> from cadence.handlers.time_limit import TimeLimit
    >>> TimeLimit(60).limit_sec
    60
"""

from cadence.engine import Engine as Engine  # Ignite's module has it too
from cadence.handlers.timing import TimeLimit

__all__ = ["TimeLimit"]
