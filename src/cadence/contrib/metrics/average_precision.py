"""Ignite's old ``ignite.contrib.metrics.average_precision`` path: re-exports
:mod:`cadence.metrics.average_precision`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.metrics.average_precision import AveragePrecision
    >>> from cadence.metrics.average_precision import AveragePrecision as Same
    >>> AveragePrecision is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.average_precision import AveragePrecision

warn_moved(__name__, "cadence.metrics.average_precision")

__all__ = ["AveragePrecision"]
