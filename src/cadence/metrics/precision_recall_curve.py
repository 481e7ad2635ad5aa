"""Ignite's ``ignite.metrics.precision_recall_curve`` path: :class:`PrecisionRecallCurve` and its compute
function, re-exported from :mod:`cadence.metrics.ranking`.

Example:
    >>> from cadence.metrics.precision_recall_curve import PrecisionRecallCurve
    >>> from cadence.metrics.ranking import PrecisionRecallCurve as Same
    >>> PrecisionRecallCurve is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.ranking import PrecisionRecallCurve, precision_recall_curve_compute_fn

__all__ = ["PrecisionRecallCurve", "precision_recall_curve_compute_fn"]
