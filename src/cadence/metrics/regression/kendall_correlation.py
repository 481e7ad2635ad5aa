"""Ignite's ``ignite.metrics.regression.kendall_correlation`` path: re-exports
:class:`~cadence.metrics.regression.ranks.KendallRankCorrelation`.

Example:
    >>> from cadence.metrics.regression.kendall_correlation import KendallRankCorrelation
    >>> from cadence.metrics.regression.ranks import KendallRankCorrelation as Same
    >>> KendallRankCorrelation is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.regression.ranks import KendallRankCorrelation

__all__ = ["KendallRankCorrelation"]
