"""Ignite's old ``ignite.contrib.metrics.regression.median_relative_absolute_error`` path.

It re-exports :class:`~cadence.metrics.regression.median_relative_absolute_error.MedianRelativeAbsoluteError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.median_relative_absolute_error as old_path
    >>> from cadence.metrics.regression import MedianRelativeAbsoluteError
    >>> old_path.MedianRelativeAbsoluteError is MedianRelativeAbsoluteError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.median_relative_absolute_error import MedianRelativeAbsoluteError

warn_moved(__name__, "cadence.metrics.regression.median_relative_absolute_error")

__all__ = ["MedianRelativeAbsoluteError"]
