"""Ignite's ``ignite.metrics.regression.median_absolute_percentage_error`` path: re-exports
:class:`~cadence.metrics.regression.medians.MedianAbsolutePercentageError`.

Example:
    >>> from cadence.metrics.regression.median_absolute_percentage_error import MedianAbsolutePercentageError
    >>> from cadence.metrics.regression.medians import MedianAbsolutePercentageError as Same
    >>> MedianAbsolutePercentageError is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.regression.medians import (
    MedianAbsolutePercentageError,
    median_absolute_percentage_error_compute_fn,
)

__all__ = ["MedianAbsolutePercentageError", "median_absolute_percentage_error_compute_fn"]
