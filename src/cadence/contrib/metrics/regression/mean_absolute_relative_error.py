"""Ignite's old ``ignite.contrib.metrics.regression.mean_absolute_relative_error`` path.

It re-exports :class:`~cadence.metrics.regression.mean_absolute_relative_error.MeanAbsoluteRelativeError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.mean_absolute_relative_error as old_path
    >>> from cadence.metrics.regression import MeanAbsoluteRelativeError
    >>> old_path.MeanAbsoluteRelativeError is MeanAbsoluteRelativeError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.mean_absolute_relative_error import MeanAbsoluteRelativeError

warn_moved(__name__, "cadence.metrics.regression.mean_absolute_relative_error")

__all__ = ["MeanAbsoluteRelativeError"]
