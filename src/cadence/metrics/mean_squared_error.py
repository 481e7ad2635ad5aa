"""Ignite's ``ignite.metrics.mean_squared_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.MeanSquaredError`.

Example:
    >>> from cadence.metrics.mean_squared_error import MeanSquaredError
    >>> from cadence.metrics.regression.errors import MeanSquaredError as Same
    >>> MeanSquaredError is Same
    True
"""

from cadence.metrics.regression.errors import MeanSquaredError

__all__ = ["MeanSquaredError"]
