"""Ignite's ``ignite.metrics.roc_auc`` path: :class:`ROC_AUC`, :class:`RocCurve` and their compute functions,
re-exported from :mod:`cadence.metrics.ranking`.

Example:
    >>> from cadence.metrics.roc_auc import ROC_AUC
    >>> from cadence.metrics.ranking import ROC_AUC as Same
    >>> ROC_AUC is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.ranking import ROC_AUC, RocCurve, roc_auc_compute_fn, roc_auc_curve_compute_fn, roc_auc_score

__all__ = ["ROC_AUC", "RocCurve", "roc_auc_compute_fn", "roc_auc_curve_compute_fn", "roc_auc_score"]
