"""Ignite's old ``ignite.contrib.metrics.regression.maximum_absolute_error`` path.

It re-exports :class:`~cadence.metrics.regression.maximum_absolute_error.MaximumAbsoluteError`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.maximum_absolute_error as old_path
    >>> from cadence.metrics.regression import MaximumAbsoluteError
    >>> old_path.MaximumAbsoluteError is MaximumAbsoluteError
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.maximum_absolute_error import MaximumAbsoluteError

warn_moved(__name__, "cadence.metrics.regression.maximum_absolute_error")

__all__ = ["MaximumAbsoluteError"]
