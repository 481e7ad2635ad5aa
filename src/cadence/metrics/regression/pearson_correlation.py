"""Ignite's ``ignite.metrics.regression.pearson_correlation`` path: re-exports
:class:`~cadence.metrics.regression.moments.PearsonCorrelation`.

Example:
    >>> from cadence.metrics.regression.pearson_correlation import PearsonCorrelation
    >>> from cadence.metrics.regression.moments import PearsonCorrelation as Same
    >>> PearsonCorrelation is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.moments import PearsonCorrelation

__all__ = ["PearsonCorrelation"]
