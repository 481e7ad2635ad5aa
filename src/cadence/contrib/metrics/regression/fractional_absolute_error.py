"""Ignite's old ``ignite.contrib.metrics.regression.fractional_absolute_error`` path.

It re-exports :class:`~cadence.metrics.regression.fractional_absolute_error.FractionalAbsoluteError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.fractional_absolute_error as old_path
    >>> from cadence.metrics.regression import FractionalAbsoluteError
    >>> old_path.FractionalAbsoluteError is FractionalAbsoluteError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.fractional_absolute_error import FractionalAbsoluteError

warn_moved(__name__, "cadence.metrics.regression.fractional_absolute_error")

__all__ = ["FractionalAbsoluteError"]
