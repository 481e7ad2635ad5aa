"""Ignite's old ``ignite.contrib.metrics.regression.geometric_mean_relative_absolute_error`` path.

It re-exports :class:`~cadence.metrics.regression.GeometricMeanRelativeAbsoluteError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.geometric_mean_relative_absolute_error as old_path
    >>> from cadence.metrics.regression import GeometricMeanRelativeAbsoluteError
    >>> old_path.GeometricMeanRelativeAbsoluteError is GeometricMeanRelativeAbsoluteError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.geometric_mean_relative_absolute_error import GeometricMeanRelativeAbsoluteError

warn_moved(__name__, "cadence.metrics.regression.geometric_mean_relative_absolute_error")

__all__ = ["GeometricMeanRelativeAbsoluteError"]
