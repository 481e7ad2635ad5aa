"""Ignite's ``ignite.metrics.average_precision`` path: :class:`AveragePrecision` and its compute function,
re-exported from :mod:`cadence.metrics.ranking`.

Example:
    >>> from cadence.metrics.average_precision import AveragePrecision
    >>> from cadence.metrics.ranking import AveragePrecision as Same
    >>> AveragePrecision is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.ranking import AveragePrecision, average_precision_compute_fn

__all__ = ["AveragePrecision", "average_precision_compute_fn"]
