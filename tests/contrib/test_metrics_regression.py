"""Ignite's old ``contrib.metrics.regression`` paths: the same classes, and a DeprecationWarning on import."""

from __future__ import annotations

import importlib
import sys

import pytest

import cadence.metrics.regression as regression
from cadence.contrib.metrics import regression as contrib_regression

MODULES = {
    "canberra_metric": "CanberraMetric",
    "fractional_absolute_error": "FractionalAbsoluteError",
    "fractional_bias": "FractionalBias",
    "geometric_mean_absolute_error": "GeometricMeanAbsoluteError",
    "geometric_mean_relative_absolute_error": "GeometricMeanRelativeAbsoluteError",
    "manhattan_distance": "ManhattanDistance",
    "maximum_absolute_error": "MaximumAbsoluteError",
    "mean_absolute_relative_error": "MeanAbsoluteRelativeError",
    "mean_error": "MeanError",
    "mean_normalized_bias": "MeanNormalizedBias",
    "median_absolute_error": "MedianAbsoluteError",
    "median_absolute_percentage_error": "MedianAbsolutePercentageError",
    "median_relative_absolute_error": "MedianRelativeAbsoluteError",
    "r2_score": "R2Score",
    "wave_hedges_distance": "WaveHedgesDistance",
}


@pytest.mark.parametrize("module, name", sorted(MODULES.items()))
def test_old_module_paths_warn_and_re_export(module: str, name: str) -> None:
    path = f"cadence.contrib.metrics.regression.{module}"
    sys.modules.pop(path, None)
    with pytest.warns(DeprecationWarning, match=f"{module} and will be removed in version 0.6.0"):
        old = importlib.import_module(path)
    assert getattr(old, name) is getattr(regression, name)
    assert getattr(contrib_regression, name) is getattr(regression, name)
