"""Ignite's old ``ignite.contrib.metrics.regression.geometric_mean_absolute_error`` path.

It re-exports :class:`~cadence.metrics.regression.geometric_mean_absolute_error.GeometricMeanAbsoluteError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.geometric_mean_absolute_error as old_path
    >>> from cadence.metrics.regression import GeometricMeanAbsoluteError
    >>> old_path.GeometricMeanAbsoluteError is GeometricMeanAbsoluteError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.geometric_mean_absolute_error import GeometricMeanAbsoluteError

warn_moved(__name__, "cadence.metrics.regression.geometric_mean_absolute_error")

__all__ = ["GeometricMeanAbsoluteError"]
