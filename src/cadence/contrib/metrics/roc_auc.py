"""Ignite's old ``ignite.contrib.metrics.roc_auc`` path: re-exports
:mod:`cadence.metrics.roc_auc`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.metrics.roc_auc import ROC_AUC
    >>> from cadence.metrics.roc_auc import ROC_AUC as Same
    >>> ROC_AUC is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.roc_auc import ROC_AUC, RocCurve

warn_moved(__name__, "cadence.metrics.roc_auc")

__all__ = ["ROC_AUC", "RocCurve"]
