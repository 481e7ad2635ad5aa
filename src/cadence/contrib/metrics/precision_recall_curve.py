"""Ignite's old ``ignite.contrib.metrics.precision_recall_curve`` path: re-exports
:mod:`cadence.metrics.precision_recall_curve`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.metrics.precision_recall_curve import PrecisionRecallCurve
    >>> from cadence.metrics.precision_recall_curve import PrecisionRecallCurve as Same
    >>> PrecisionRecallCurve is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.precision_recall_curve import PrecisionRecallCurve, precision_recall_curve_compute_fn

warn_moved(__name__, "cadence.metrics.precision_recall_curve")

__all__ = ["PrecisionRecallCurve", "precision_recall_curve_compute_fn"]
