"""Every regression metric against an independent reference (scikit-learn, SciPy, NumPy formulas)."""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as sk

from cadence.metrics import MeanAbsoluteError, MeanSquaredError, NotComputableError, R2Score, RootMeanSquaredError
from cadence.metrics.epoch_metric import EpochMetricWarning
from cadence.metrics.regression import (
    CanberraMetric,
    FractionalAbsoluteError,
    FractionalBias,
    GeometricMeanAbsoluteError,
    GeometricMeanRelativeAbsoluteError,
    KendallRankCorrelation,
    ManhattanDistance,
    MaximumAbsoluteError,
    MeanAbsoluteRelativeError,
    MeanError,
    MeanNormalizedBias,
    MedianAbsoluteError,
    MedianAbsolutePercentageError,
    MedianRelativeAbsoluteError,
    PearsonCorrelation,
    SpearmanRankCorrelation,
    WaveHedgesDistance,
)
from cadence.metrics.regression.ranks import kendall_tau, spearman_rho
from tests.metrics._data import SETTINGS, cuts, generator, split

Array = np.ndarray[Any, Any]
Reference = Callable[[Array, Array], float]


def _gmrae(y: Array, p: Array) -> float:
    return float(np.exp(np.mean(np.log(np.abs(y - p) / np.abs(y - y.mean())))))


REFERENCES: list[tuple[Callable[[], Any], Reference]] = [
    (MeanAbsoluteError, sk.mean_absolute_error),
    (MeanSquaredError, sk.mean_squared_error),
    (RootMeanSquaredError, lambda y, p: math.sqrt(sk.mean_squared_error(y, p))),
    (R2Score, sk.r2_score),
    (MeanError, lambda y, p: float(np.mean(y - p))),
    (ManhattanDistance, lambda y, p: float(np.abs(y - p).sum())),
    (CanberraMetric, lambda y, p: float((np.abs(y - p) / (np.abs(y) + np.abs(p))).sum())),
    (WaveHedgesDistance, lambda y, p: float((np.abs(y - p) / np.maximum(y, p)).sum())),
    (FractionalAbsoluteError, lambda y, p: float(np.mean(2 * np.abs(y - p) / (np.abs(y) + np.abs(p))))),
    (FractionalBias, lambda y, p: float(np.mean(2 * (y - p) / (y + p)))),
    (GeometricMeanAbsoluteError, lambda y, p: float(np.exp(np.mean(np.log(np.abs(y - p)))))),
    (GeometricMeanRelativeAbsoluteError, _gmrae),
    (MeanAbsoluteRelativeError, lambda y, p: float(np.mean(np.abs(y - p) / np.abs(y)))),
    (MeanNormalizedBias, lambda y, p: float(np.mean((y - p) / y))),
    (MaximumAbsoluteError, lambda y, p: float(np.max(np.abs(y - p)))),
    (MedianAbsoluteError, lambda y, p: float(np.median(np.abs(y - p)))),
    (MedianAbsolutePercentageError, lambda y, p: float(100 * np.median(np.abs(y - p) / np.abs(y)))),
    (MedianRelativeAbsoluteError, lambda y, p: float(np.median(np.abs(y - p) / np.abs(y - y.mean())))),
    (PearsonCorrelation, lambda y, p: float(stats.pearsonr(p, y).statistic)),
    (SpearmanRankCorrelation, lambda y, p: float(stats.spearmanr(p, y).statistic)),
    (KendallRankCorrelation, lambda y, p: float(stats.kendalltau(p, y).statistic)),
    (lambda: KendallRankCorrelation(variant="c"), lambda y, p: float(stats.kendalltau(p, y, variant="c").statistic)),
]


def _name(value: Any) -> str:
    return getattr(value, "__name__", "")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NumPy references divide by 0 where the metrics do
@pytest.mark.parametrize("make, reference", REFERENCES, ids=[_name(m) or "Kendall_c" for m, _ in REFERENCES])
@pytest.mark.parametrize("column", [False, True])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(3, 40), ties=st.booleans(), data=st.data())
def test_matches_the_reference(
    make: Any, reference: Reference, column: bool, seed: int, n: int, ties: bool, data: Any
) -> None:
    g = generator(seed)
    # Positive values keep every relative error and the Wave Hedges distance defined.
    y, y_pred = torch.rand(n, generator=g).double() + 0.5, torch.rand(n, generator=g).double() + 0.5
    if ties:  # repeated values: rank correlations must handle ties as SciPy does
        y, y_pred = (y * 4).round() / 4 + 0.25, (y_pred * 4).round() / 4 + 0.5
    assume(bool(np.ptp(y.numpy())) and bool(np.ptp(y_pred.numpy())))  # constant data: R² and correlations undefined
    shape = (n, 1) if column else (n,)
    metric = make()
    for batch in split([y_pred.reshape(shape), y.reshape(shape)], data.draw(cuts(n))):
        metric.update(batch)
    expected = reference(y.numpy(), y_pred.numpy())
    assert metric.compute() == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)
    assert metric.compute() == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)  # compute twice


def test_errors_of_a_sample_are_summed_over_its_elements_as_in_ignite() -> None:
    mae = MeanAbsoluteError()
    mae.update((torch.zeros(2, 3), torch.ones(2, 3)))
    assert mae.compute() == 3.0


@pytest.mark.parametrize("size", [1, 2, 51, 100])
def test_median_of_an_even_count_is_the_mean_of_the_middle_two(size: int) -> None:
    y_pred, y = torch.rand(size, generator=generator(size)), torch.zeros(size)
    metric = MedianAbsoluteError()
    metric.update((y_pred, y))
    assert metric.compute() == pytest.approx(float(np.median(y_pred.numpy())))


@given(values=st.lists(st.integers(-3, 3), min_size=2, max_size=30), other=st.lists(st.integers(-3, 3), min_size=30))
@settings(**SETTINGS)
def test_rank_correlations_match_scipy_with_any_ties(values: list[int], other: list[int]) -> None:
    x, y = np.array(values, dtype=float), np.array(other[: len(values)], dtype=float)
    for variant in ("b", "c"):
        expected = stats.kendalltau(x, y, variant=variant).statistic
        assert kendall_tau(torch.tensor(x), torch.tensor(y), variant) == pytest.approx(expected, nan_ok=True)
    expected = stats.spearmanr(x, y).statistic if np.ptp(x) and np.ptp(y) else math.nan
    assert spearman_rho(torch.tensor(x), torch.tensor(y)) == pytest.approx(expected, nan_ok=True)


def test_kendall_on_many_samples_matches_scipy() -> None:
    g = generator(3)
    x, y = torch.randn(5000, generator=g).double(), torch.randn(5000, generator=g).round().double()
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x.numpy(), y.numpy()).statistic, rel=1e-12)


ALL = [make for make, _ in REFERENCES]
COLUMN_ONLY = [make for make in ALL if make not in (MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError)]
SUMS = (ManhattanDistance, CanberraMetric, WaveHedgesDistance)


@pytest.mark.parametrize("make", ALL, ids=[_name(m) or "Kendall_c" for m in ALL])
def test_bad_input_and_no_data(make: Any) -> None:
    metric = make()
    if make in SUMS:
        assert metric.compute() == 0.0  # a distance over no samples is 0, as in Ignite
    else:
        with pytest.raises(NotComputableError, match="must have at least one"):
            metric.compute()
    with pytest.raises(ValueError, match="shapes should be the same"):
        metric.update((torch.ones(3), torch.ones(4)))
    with pytest.raises(TypeError, match="pair"):
        metric.update(torch.ones(3))


@pytest.mark.parametrize("make", COLUMN_ONLY, ids=[_name(m) or "Kendall_c" for m in COLUMN_ONLY])
def test_one_value_per_sample_of_a_floating_type(make: Any) -> None:
    metric = make()
    with pytest.raises(ValueError, match=r"should (have|be of) shape"):
        metric.update((torch.ones(3, 2, 2), torch.ones(3, 2, 2)))
    if make not in (MedianAbsoluteError, MedianAbsolutePercentageError, MedianRelativeAbsoluteError):
        with pytest.raises(ValueError, match=r"should have shape \(N,\) or \(N, 1\)"):
            metric.update((torch.ones(3, 2), torch.ones(3, 2)))
        with pytest.raises(TypeError, match="dtype should be float"):
            metric.update((torch.ones(3, dtype=torch.int64), torch.ones(3)))
        with pytest.raises(TypeError, match="y dtype should be float"):
            metric.update((torch.ones(3), torch.ones(3, dtype=torch.int64)))


@pytest.mark.parametrize("metric_cls", [MeanAbsoluteRelativeError, MeanNormalizedBias])
def test_relative_errors_refuse_a_zero_target(metric_cls: Any) -> None:
    with pytest.raises(NotComputableError, match="The ground truth has 0"):
        metric_cls().update((torch.ones(2), torch.tensor([1.0, 0.0])))


@pytest.mark.parametrize(
    "metric_cls", [MedianAbsoluteError, SpearmanRankCorrelation, KendallRankCorrelation, MedianRelativeAbsoluteError]
)
@pytest.mark.filterwarnings("ignore::cadence.metrics.epoch_metric.EpochMetricWarning")  # tested below
def test_ranking_metrics_refuse_nan(metric_cls: Any) -> None:
    metric = metric_cls()
    metric.update((torch.tensor([1.0, math.nan, 2.0]), torch.tensor([1.0, 2.0, 3.0])))
    with pytest.raises(ValueError, match="NaN"):
        metric.compute()


@pytest.mark.parametrize("metric_cls", [SpearmanRankCorrelation, KendallRankCorrelation])
def test_check_compute_fn_warns_on_a_first_batch_that_cannot_be_computed(metric_cls: Any) -> None:
    nan_batch = (torch.tensor([1.0, math.nan, 2.0]), torch.tensor([1.0, 2.0, 3.0]))
    with pytest.warns(EpochMetricWarning, match="NaN or infinite values"):
        metric_cls().update(nan_batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metric_cls(check_compute_fn=False).update(nan_batch)
        checked = metric_cls()
        checked.update((torch.tensor([1.0, 2.0]), torch.tensor([2.0, 1.0])))
        checked.update(nan_batch)  # only the first batch is tried


def test_kendall_variant_and_pearson_eps_are_checked() -> None:
    with pytest.raises(ValueError, match="variant accepts 'b' or 'c', got 'a'"):
        KendallRankCorrelation(variant="a")
    with pytest.raises(ValueError, match="eps >= 0"):
        PearsonCorrelation(eps=-1.0)


def test_pearson_of_constant_data_is_zero_not_nan() -> None:
    pearson = PearsonCorrelation()
    pearson.update((torch.ones(5), torch.arange(5.0)))
    assert pearson.compute() == 0.0


@pytest.mark.parametrize("metric_cls", [MedianAbsoluteError, KendallRankCorrelation, PearsonCorrelation])
def test_state_dict_resumes_exactly(metric_cls: Any) -> None:
    g = generator(5)
    first, second = torch.rand(7, generator=g), torch.rand(6, generator=g)
    whole = metric_cls()
    whole.update((first, first.flip(0)))
    whole.update((second, second.sqrt()))
    saved = metric_cls()
    saved.update((first, first.flip(0)))
    state = saved.state_dict()
    resumed = metric_cls()
    resumed.load_state_dict(state)
    resumed.update((second, second.sqrt()))
    assert resumed.compute() == pytest.approx(whole.compute(), rel=1e-12)
    assert metric_cls().state_dict()["state"] != state["state"] or metric_cls is PearsonCorrelation
    reloaded = metric_cls()
    reloaded.load_state_dict(state)  # the saved state is not changed by the update above
    assert reloaded.compute() == pytest.approx(saved.compute(), rel=1e-12)


IGNITE_PATHS = {
    "canberra_metric": "CanberraMetric",
    "fractional_absolute_error": "FractionalAbsoluteError",
    "fractional_bias": "FractionalBias",
    "geometric_mean_absolute_error": "GeometricMeanAbsoluteError",
    "geometric_mean_relative_absolute_error": "GeometricMeanRelativeAbsoluteError",
    "kendall_correlation": "KendallRankCorrelation",
    "manhattan_distance": "ManhattanDistance",
    "maximum_absolute_error": "MaximumAbsoluteError",
    "mean_absolute_relative_error": "MeanAbsoluteRelativeError",
    "mean_error": "MeanError",
    "mean_normalized_bias": "MeanNormalizedBias",
    "median_absolute_error": "MedianAbsoluteError",
    "median_absolute_percentage_error": "MedianAbsolutePercentageError",
    "median_relative_absolute_error": "MedianRelativeAbsoluteError",
    "pearson_correlation": "PearsonCorrelation",
    "r2_score": "R2Score",
    "spearman_correlation": "SpearmanRankCorrelation",
    "wave_hedges_distance": "WaveHedgesDistance",
}


@pytest.mark.parametrize("module, name", sorted(IGNITE_PATHS.items()))
def test_ignite_module_paths_re_export_the_same_classes(module: str, name: str) -> None:
    regression = importlib.import_module("cadence.metrics.regression")
    assert getattr(importlib.import_module(f"cadence.metrics.regression.{module}"), name) is getattr(regression, name)


def test_top_level_paths() -> None:
    for module, name in (
        ("mean_absolute_error", "MeanAbsoluteError"),
        ("mean_squared_error", "MeanSquaredError"),
        ("root_mean_squared_error", "RootMeanSquaredError"),
    ):
        cls = getattr(importlib.import_module(f"cadence.metrics.{module}"), name)
        assert cls is getattr(importlib.import_module("cadence.metrics"), name)
