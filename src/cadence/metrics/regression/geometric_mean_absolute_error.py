"""Ignite's ``ignite.metrics.regression.geometric_mean_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.GeometricMeanAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.geometric_mean_absolute_error import GeometricMeanAbsoluteError
    >>> from cadence.metrics.regression.errors import GeometricMeanAbsoluteError as Same
    >>> GeometricMeanAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError, reinit__is_reduced, sync_all_reduce
from cadence.metrics.regression.errors import GeometricMeanAbsoluteError

__all__ = ["GeometricMeanAbsoluteError", "NotComputableError", "reinit__is_reduced", "sync_all_reduce"]
