"""Ignite's old ``ignite.contrib.metrics.regression.median_absolute_error`` path.

It re-exports :class:`~cadence.metrics.regression.median_absolute_error.MedianAbsoluteError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.median_absolute_error as old_path
    >>> from cadence.metrics.regression import MedianAbsoluteError
    >>> old_path.MedianAbsoluteError is MedianAbsoluteError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.median_absolute_error import MedianAbsoluteError

warn_moved(__name__, "cadence.metrics.regression.median_absolute_error")

__all__ = ["MedianAbsoluteError"]
