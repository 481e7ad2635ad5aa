"""Regression metrics (Ignite's ``ignite.metrics.regression``), grouped by how they accumulate.

- :mod:`~cadence.metrics.regression.errors`: sums over samples (mean errors, distances, maximum error);
- :mod:`~cadence.metrics.regression.moments`: R² and Pearson's correlation, from sums of moments;
- :mod:`~cadence.metrics.regression.medians`: medians and the geometric mean relative error (every sample kept);
- :mod:`~cadence.metrics.regression.ranks`: Spearman's and Kendall's rank correlations (every sample kept).

Across processes each is exact on uneven shards: sums are all-reduced, kept samples are gathered.

Example:
    >>> import torch
    >>> from cadence.metrics.regression import MedianAbsoluteError
    >>> metric = MedianAbsoluteError()
    >>> metric.update((torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 4.0, 1.0])))
    >>> metric.compute()
    2.0
"""

from cadence.metrics.regression.errors import (
    CanberraMetric,
    FractionalAbsoluteError,
    FractionalBias,
    GeometricMeanAbsoluteError,
    ManhattanDistance,
    MaximumAbsoluteError,
    MeanAbsoluteError,
    MeanAbsoluteRelativeError,
    MeanError,
    MeanNormalizedBias,
    MeanSquaredError,
    RootMeanSquaredError,
    WaveHedgesDistance,
)
from cadence.metrics.regression.medians import (
    GeometricMeanRelativeAbsoluteError,
    MedianAbsoluteError,
    MedianAbsolutePercentageError,
    MedianRelativeAbsoluteError,
)
from cadence.metrics.regression.moments import PearsonCorrelation, R2Score
from cadence.metrics.regression.ranks import KendallRankCorrelation, SpearmanRankCorrelation

__all__ = [
    "CanberraMetric",
    "FractionalAbsoluteError",
    "FractionalBias",
    "GeometricMeanAbsoluteError",
    "GeometricMeanRelativeAbsoluteError",
    "KendallRankCorrelation",
    "ManhattanDistance",
    "MaximumAbsoluteError",
    "MeanAbsoluteError",
    "MeanAbsoluteRelativeError",
    "MeanError",
    "MeanNormalizedBias",
    "MeanSquaredError",
    "MedianAbsoluteError",
    "MedianAbsolutePercentageError",
    "MedianRelativeAbsoluteError",
    "PearsonCorrelation",
    "R2Score",
    "RootMeanSquaredError",
    "SpearmanRankCorrelation",
    "WaveHedgesDistance",
]
