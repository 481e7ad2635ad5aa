"""EpochMetric: the compute function of every batch kept, errors, warnings and state."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence import Engine
from cadence.metrics import (
    ROC_AUC,
    AveragePrecision,
    CohenKappa,
    EpochMetric,
    MatthewsCorrCoef,
    Metric,
    NotComputableError,
)
from cadence.metrics.clustering import CalinskiHarabaszScore, DaviesBouldinScore, SilhouetteScore
from cadence.metrics.epoch_metric import EpochMetricWarning
from cadence.metrics.regression import (
    KendallRankCorrelation,
    MedianAbsoluteError,
    MedianRelativeAbsoluteError,
    SpearmanRankCorrelation,
)
from tests.metrics._data import SETTINGS, cuts, generator, split


def _mse(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    return float(((y_pred - y.type_as(y_pred)) ** 2).mean())


@pytest.mark.parametrize("width", [None, 1, 3])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 30), data=st.data())
def test_compute_fn_sees_every_row_in_order(width: int | None, seed: int, n: int, data: Any) -> None:
    g = generator(seed)
    shape = (n,) if width is None else (n, width)
    y_pred, y = torch.rand(shape, generator=g), torch.randint(0, 2, shape, generator=g)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(predictions: torch.Tensor, targets: torch.Tensor) -> int:
        seen.append((predictions, targets))
        return predictions.shape[0]

    metric = EpochMetric(keep, check_compute_fn=False)
    for batch in split([y_pred, y], data.draw(cuts(n))):
        metric.update(batch)
    assert metric.compute() == n
    predictions, targets = seen[-1]
    squeezed = (y_pred.squeeze(1), y.squeeze(1)) if width == 1 else (y_pred, y)
    assert torch.equal(predictions, squeezed[0]) and torch.equal(targets, squeezed[1])


def test_mean_squared_error_and_engine() -> None:
    y_pred, y = torch.tensor([0.0, 1.5, 2.0, 3.0]), torch.tensor([0, 1, 2, 4])
    engine = Engine(lambda engine, batch: batch)
    EpochMetric(_mse).attach(engine, "mse")
    assert engine.run(split([y_pred, y], [1, 3])).metrics["mse"] == pytest.approx(_mse(y_pred, y))


def test_errors() -> None:
    with pytest.raises(TypeError, match="compute_fn should be callable"):
        EpochMetric(12345)  # type: ignore[arg-type]
    metric = EpochMetric(_mse)
    with pytest.raises(NotComputableError, match="EpochMetric must have at least one example"):
        metric.compute()
    with pytest.raises(ValueError, match="Predictions should be of shape"):
        metric.update((torch.tensor(0.0), torch.tensor(0)))
    with pytest.raises(ValueError, match="Targets should be of shape"):
        metric.update((torch.rand(4, 3), torch.rand(4, 3, 1)))
    with pytest.raises(TypeError, match="pair"):
        metric.update((torch.rand(4),))
    y_pred = torch.rand(4, 3)
    metric.update((y_pred, torch.ones(4, 3, dtype=torch.int64)))
    with pytest.raises(ValueError, match="Incoherent types between input y_pred and stored predictions"):
        metric.update((torch.ones(4, 3, dtype=torch.int64), torch.ones(4, 3, dtype=torch.int64)))
    with pytest.raises(ValueError, match="Incoherent types between input y and stored targets"):
        metric.update((torch.rand(4, 3), torch.ones(4, 3, dtype=torch.int32)))
    with pytest.raises(ValueError, match="same number of targets"):
        metric.update((torch.rand(4, 2), torch.ones(4, 2, dtype=torch.int64)))
    assert metric.compute() == pytest.approx(_mse(y_pred, torch.ones(4, 3)))  # the refused batches were not kept


def test_check_compute_fn_warns_once_on_a_failing_function() -> None:
    def broken(y_pred: torch.Tensor, y: torch.Tensor) -> float:
        raise RuntimeError("boom")

    metric = EpochMetric(broken)
    with pytest.warns(EpochMetricWarning, match="(?s)problem with `compute_fn`.*boom"):
        metric.update((torch.rand(2), torch.rand(2)))
    metric.update((torch.rand(2), torch.rand(2)))  # only the first batch is checked
    EpochMetric(broken, check_compute_fn=False).update((torch.rand(2), torch.rand(2)))


def test_state_dict_resumes_and_reset_forgets() -> None:
    y_pred, y = torch.rand(6), torch.rand(6)
    first = EpochMetric(_mse)
    first.update((y_pred[:4], y[:4]))
    second = EpochMetric(_mse)
    second.load_state_dict(first.state_dict())
    second.update((y_pred[4:], y[4:]))
    assert second.compute() == pytest.approx(_mse(y_pred, y))
    first.update((y_pred[4:], y[4:]))  # the saved state was a copy
    assert first.compute() == pytest.approx(second.compute())
    second.reset()
    with pytest.raises(NotComputableError):
        second.compute()
    with pytest.raises(ValueError, match="lists of tensors"):
        second.load_state_dict({**first.state_dict(), "state": {"_predictions": [y_pred], "_targets": [1]}})


@pytest.mark.parametrize(
    "make",
    [
        ROC_AUC,
        AveragePrecision,
        CohenKappa,
        MatthewsCorrCoef,
        MedianAbsoluteError,
        MedianRelativeAbsoluteError,
        SpearmanRankCorrelation,
        KendallRankCorrelation,
        SilhouetteScore,
        DaviesBouldinScore,
        CalinskiHarabaszScore,
    ],
)
def test_the_metrics_of_every_sample_are_epoch_metrics_as_in_ignite(make: type[Metric]) -> None:
    metric = make()
    assert isinstance(metric, EpochMetric)
    assert callable(metric.compute_fn)
