"""Ignite's ``ignite.metrics.regression.median_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.medians.MedianAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.median_absolute_error import MedianAbsoluteError
    >>> from cadence.metrics.regression.medians import MedianAbsoluteError as Same
    >>> MedianAbsoluteError is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.regression.medians import MedianAbsoluteError, median_absolute_error_compute_fn

__all__ = ["MedianAbsoluteError", "median_absolute_error_compute_fn"]
