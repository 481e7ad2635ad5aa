"""Ignite's ``ignite.contrib.metrics`` path: the metrics Ignite kept there, re-exported from :mod:`cadence.metrics`.

Example:
    >>> from cadence.contrib.metrics import ROC_AUC
    >>> from cadence.metrics import ROC_AUC as Same
    >>> ROC_AUC is Same
    True
"""

from cadence.contrib.metrics import regression
from cadence.metrics.cohen_kappa import CohenKappa
from cadence.metrics.gpu_info import GpuInfo
from cadence.metrics.ranking import AveragePrecision, PrecisionRecallCurve, RocCurve
from cadence.metrics.roc_auc import ROC_AUC

__all__ = [
    "ROC_AUC",
    "AveragePrecision",
    "CohenKappa",
    "GpuInfo",
    "PrecisionRecallCurve",
    "RocCurve",
    "regression",
]
