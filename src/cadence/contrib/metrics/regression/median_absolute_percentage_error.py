"""Ignite's old ``ignite.contrib.metrics.regression.median_absolute_percentage_error`` path.

It re-exports :class:`~cadence.metrics.regression.median_absolute_percentage_error.MedianAbsolutePercentageError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.median_absolute_percentage_error as old_path
    >>> from cadence.metrics.regression import MedianAbsolutePercentageError
    >>> old_path.MedianAbsolutePercentageError is MedianAbsolutePercentageError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.median_absolute_percentage_error import MedianAbsolutePercentageError

warn_moved(__name__, "cadence.metrics.regression.median_absolute_percentage_error")

__all__ = ["MedianAbsolutePercentageError"]
