"""Ignite's ``ignite.metrics.root_mean_squared_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.RootMeanSquaredError`.

Example:
    >>> from cadence.metrics.root_mean_squared_error import RootMeanSquaredError
    >>> from cadence.metrics.regression.errors import RootMeanSquaredError as Same
    >>> RootMeanSquaredError is Same
    True
"""

from cadence.metrics.regression.errors import RootMeanSquaredError

__all__ = ["RootMeanSquaredError"]
