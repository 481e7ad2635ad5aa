"""Ignite's ``ignite.metrics.maximum_mean_discrepancy`` path:
:class:`~cadence.metrics.kernel_statistics.MaximumMeanDiscrepancy`.

Example:
    >>> from cadence.metrics.maximum_mean_discrepancy import MaximumMeanDiscrepancy
    >>> from cadence.metrics import MaximumMeanDiscrepancy as Same
    >>> MaximumMeanDiscrepancy is Same
    True
"""

from cadence.metrics.kernel_statistics import MaximumMeanDiscrepancy

__all__ = ["MaximumMeanDiscrepancy"]
