"""Ignite's ``ignite.metrics.regression.geometric_mean_relative_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.medians.GeometricMeanRelativeAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.geometric_mean_relative_absolute_error import GeometricMeanRelativeAbsoluteError
    >>> from cadence.metrics.regression.medians import GeometricMeanRelativeAbsoluteError as Same
    >>> GeometricMeanRelativeAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.regression.medians import GeometricMeanRelativeAbsoluteError

__all__ = ["GeometricMeanRelativeAbsoluteError"]
