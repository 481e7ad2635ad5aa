"""Ignite's ``ignite.metrics.regression.mean_absolute_relative_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.MeanAbsoluteRelativeError`.

Example:
    >>> from cadence.metrics.regression.mean_absolute_relative_error import MeanAbsoluteRelativeError
    >>> from cadence.metrics.regression.errors import MeanAbsoluteRelativeError as Same
    >>> MeanAbsoluteRelativeError is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import MeanAbsoluteRelativeError

__all__ = ["MeanAbsoluteRelativeError"]
