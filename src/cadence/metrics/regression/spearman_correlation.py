"""Ignite's ``ignite.metrics.regression.spearman_correlation`` path: re-exports
:class:`~cadence.metrics.regression.ranks.SpearmanRankCorrelation`.

Example:
    >>> from cadence.metrics.regression.spearman_correlation import SpearmanRankCorrelation
    >>> from cadence.metrics.regression.ranks import SpearmanRankCorrelation as Same
    >>> SpearmanRankCorrelation is Same
    True
"""

from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.regression.ranks import SpearmanRankCorrelation

__all__ = ["SpearmanRankCorrelation"]
