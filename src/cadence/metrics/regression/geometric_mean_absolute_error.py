"""Ignite's ``ignite.metrics.regression.geometric_mean_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.GeometricMeanAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.geometric_mean_absolute_error import GeometricMeanAbsoluteError
    >>> from cadence.metrics.regression.errors import GeometricMeanAbsoluteError as Same
    >>> GeometricMeanAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import GeometricMeanAbsoluteError

__all__ = ["GeometricMeanAbsoluteError"]
