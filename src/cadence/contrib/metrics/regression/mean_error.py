"""Ignite's old ``ignite.contrib.metrics.regression.mean_error`` path.

It re-exports :class:`~cadence.metrics.regression.mean_error.MeanError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.mean_error as old_path
    >>> from cadence.metrics.regression import MeanError
    >>> old_path.MeanError is MeanError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.mean_error import MeanError

warn_moved(__name__, "cadence.metrics.regression.mean_error")

__all__ = ["MeanError"]
