"""Ignite's ``ignite.metrics.frequency`` path: :class:`~cadence.metrics.running.Frequency`, with the names
Ignite's module also exposes.

Example:
    >>> from cadence.metrics.frequency import Frequency
    >>> from cadence.metrics import Frequency as Same
    >>> Frequency is Same
    True
"""

from cadence.engine import Engine, Events
from cadence.handlers.timing import Timer
from cadence.metrics.metric import Metric, reinit__is_reduced, sync_all_reduce
from cadence.metrics.running import Frequency

__all__ = ["Engine", "Events", "Frequency", "Metric", "Timer", "reinit__is_reduced", "sync_all_reduce"]
