"""Ignite's ``ignite.metrics.regression.median_relative_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.medians.MedianRelativeAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.median_relative_absolute_error import MedianRelativeAbsoluteError
    >>> from cadence.metrics.regression.medians import MedianRelativeAbsoluteError as Same
    >>> MedianRelativeAbsoluteError is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.regression.medians import MedianRelativeAbsoluteError, median_relative_absolute_error_compute_fn

__all__ = ["MedianRelativeAbsoluteError", "median_relative_absolute_error_compute_fn"]
