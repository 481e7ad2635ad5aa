"""Ignite's ``ignite.metrics.regression.mean_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.MeanError`.

Example:
    >>> from cadence.metrics.regression.mean_error import MeanError
    >>> from cadence.metrics.regression.errors import MeanError as Same
    >>> MeanError is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import MeanError

__all__ = ["MeanError"]
