"""Ignite's ``ignite.metrics.mean_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.MeanAbsoluteError`.

Example:
    >>> from cadence.metrics.mean_absolute_error import MeanAbsoluteError
    >>> from cadence.metrics.regression.errors import MeanAbsoluteError as Same
    >>> MeanAbsoluteError is Same
    True
"""

from cadence.metrics.regression.errors import MeanAbsoluteError

__all__ = ["MeanAbsoluteError"]
