"""Ignite's ``ignite.metrics.frequency`` path: :class:`~cadence.metrics.running.Frequency`, with the names
Ignite's module also exposes.

Example:
    >>> from cadence.metrics.frequency import Frequency
    >>> from cadence.metrics import Frequency as Same
    >>> Frequency is Same
    True
"""

from cadence.engine import Engine as Engine
from cadence.engine import Events as Events
from cadence.handlers.timing import Timer as Timer
from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.running import Frequency

__all__ = ["Frequency"]
