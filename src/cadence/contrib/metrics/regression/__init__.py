"""Ignite's ``ignite.contrib.metrics.regression`` path: the regression metrics of :mod:`cadence.metrics.regression`.

Importing this package does not warn; importing one of its modules (Ignite's old paths) does.

Example:
    >>> from cadence.contrib.metrics.regression import MeanError
    >>> from cadence.metrics.regression import MeanError as Same
    >>> MeanError is Same
    True
"""

from cadence.metrics.regression import (
    canberra_metric,
    fractional_absolute_error,
    fractional_bias,
    geometric_mean_absolute_error,
    geometric_mean_relative_absolute_error,
    manhattan_distance,
    maximum_absolute_error,
    mean_absolute_relative_error,
    mean_error,
    mean_normalized_bias,
    median_absolute_error,
    median_absolute_percentage_error,
    median_relative_absolute_error,
    r2_score,
    wave_hedges_distance,
)
from cadence.metrics.regression.canberra_metric import CanberraMetric
from cadence.metrics.regression.fractional_absolute_error import FractionalAbsoluteError
from cadence.metrics.regression.fractional_bias import FractionalBias
from cadence.metrics.regression.geometric_mean_absolute_error import GeometricMeanAbsoluteError
from cadence.metrics.regression.geometric_mean_relative_absolute_error import GeometricMeanRelativeAbsoluteError
from cadence.metrics.regression.manhattan_distance import ManhattanDistance
from cadence.metrics.regression.maximum_absolute_error import MaximumAbsoluteError
from cadence.metrics.regression.mean_absolute_relative_error import MeanAbsoluteRelativeError
from cadence.metrics.regression.mean_error import MeanError
from cadence.metrics.regression.mean_normalized_bias import MeanNormalizedBias
from cadence.metrics.regression.median_absolute_error import MedianAbsoluteError
from cadence.metrics.regression.median_absolute_percentage_error import MedianAbsolutePercentageError
from cadence.metrics.regression.median_relative_absolute_error import MedianRelativeAbsoluteError
from cadence.metrics.regression.r2_score import R2Score
from cadence.metrics.regression.wave_hedges_distance import WaveHedgesDistance

__all__ = [
    "CanberraMetric",
    "FractionalAbsoluteError",
    "FractionalBias",
    "GeometricMeanAbsoluteError",
    "GeometricMeanRelativeAbsoluteError",
    "ManhattanDistance",
    "MaximumAbsoluteError",
    "MeanAbsoluteRelativeError",
    "MeanError",
    "MeanNormalizedBias",
    "MedianAbsoluteError",
    "MedianAbsolutePercentageError",
    "MedianRelativeAbsoluteError",
    "R2Score",
    "WaveHedgesDistance",
    "canberra_metric",
    "fractional_absolute_error",
    "fractional_bias",
    "geometric_mean_absolute_error",
    "geometric_mean_relative_absolute_error",
    "manhattan_distance",
    "maximum_absolute_error",
    "mean_absolute_relative_error",
    "mean_error",
    "mean_normalized_bias",
    "median_absolute_error",
    "median_absolute_percentage_error",
    "median_relative_absolute_error",
    "r2_score",
    "wave_hedges_distance",
]
