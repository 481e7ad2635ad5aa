"""ROC AUC, ROC and precision-recall curves and average precision against scikit-learn."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence import Engine
from cadence.metrics import ROC_AUC, AveragePrecision, NotComputableError, PrecisionRecallCurve, RocCurve
from cadence.metrics.epoch_metric import EpochMetricWarning
from cadence.metrics.ranking import (
    average_precision_compute_fn,
    precision_recall_curve_compute_fn,
    roc_auc_compute_fn,
    roc_auc_curve_compute_fn,
    roc_auc_score,
)
from tests.metrics._data import SETTINGS, cuts, generator, split

RANKING = [ROC_AUC, RocCurve, PrecisionRecallCurve, AveragePrecision]


def _scores_and_targets(seed: int, shape: tuple[int, ...], ties: bool) -> tuple[torch.Tensor, torch.Tensor]:
    g = generator(seed)
    scores = torch.rand(shape, generator=g)
    if ties:
        scores = (scores * 4).round() / 4
    y = torch.randint(0, 2, shape, generator=g)
    y[0], y[1] = 0, 1  # both classes in every column
    return scores, y


def _fed(metric: Any, tensors: list[torch.Tensor], points: list[int]) -> Any:
    for batch in split(tensors, points):
        metric.update(batch)
    return metric


@pytest.mark.parametrize("targets", [None, 1, 3])
@pytest.mark.parametrize("ties", [False, True])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(4, 40), data=st.data())
def test_auc_and_average_precision_match_sklearn(targets: int | None, ties: bool, seed: int, n: int, data: Any) -> None:
    scores, y = _scores_and_targets(seed, (n,) if targets is None else (n, targets), ties)
    points = data.draw(cuts(n))
    auc, ap = _fed(ROC_AUC(), [scores, y], points), _fed(AveragePrecision(), [scores, y], points)
    assert auc.compute() == pytest.approx(sk.roc_auc_score(y.numpy(), scores.numpy()), rel=1e-9)
    assert ap.compute() == pytest.approx(sk.average_precision_score(y.numpy(), scores.numpy()), rel=1e-9)


@pytest.mark.parametrize("ties", [False, True])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(4, 40), column=st.booleans(), data=st.data())
def test_curves_match_sklearn(ties: bool, seed: int, n: int, column: bool, data: Any) -> None:
    scores, y = _scores_and_targets(seed, (n,), ties)
    points = data.draw(cuts(n))
    fed_scores = scores.unsqueeze(1) if column else scores
    fpr, tpr, roc_thresholds = _fed(RocCurve(), [fed_scores, y], points).compute()
    precision, recall, pr_thresholds = _fed(PrecisionRecallCurve(), [fed_scores, y], points).compute()
    for ours, expected in zip(
        (fpr, tpr, roc_thresholds, precision, recall, pr_thresholds),
        (*sk.roc_curve(y.numpy(), scores.numpy()), *sk.precision_recall_curve(y.numpy(), scores.numpy())),
        strict=True,
    ):
        assert ours.dtype == torch.float64
        assert ours.numpy() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("metric_type", RANKING)
def test_nan_scores_are_refused_at_compute(metric_type: Any) -> None:
    # Checked once over all the data at compute (a per-batch check costs a host sync per update): a diverged
    # model's NaN scores raise before any handler can read a value (ROC_AUC used to give 1.0).
    metric = metric_type()
    metric.update((torch.tensor([0.2, 0.4]), torch.tensor([0, 1])))
    metric.update((torch.tensor([0.2, float("nan"), 0.7]), torch.tensor([0, 1, 1])))
    with pytest.raises(ValueError, match="NaN"):
        metric.compute()


@pytest.mark.parametrize(
    "compute_fn",
    [roc_auc_compute_fn, roc_auc_curve_compute_fn, precision_recall_curve_compute_fn, average_precision_compute_fn],
)
def test_compute_functions_refuse_nan_and_bad_targets(compute_fn: Any) -> None:
    with pytest.raises(ValueError, match="NaN"):
        compute_fn(torch.tensor([0.2, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="only 0s and 1s"):
        compute_fn(torch.tensor([0.2, 0.4]), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="same shape"):
        compute_fn(torch.tensor([0.2, 0.4]), torch.tensor([0, 1, 1]))


@pytest.mark.parametrize("metric_type", RANKING)
def test_update_errors(metric_type: Any) -> None:
    metric = metric_type()
    with pytest.raises(ValueError, match="same shape"):
        metric.update((torch.rand(3), torch.ones(4)))
    with pytest.raises(ValueError, match="Predictions should be of shape"):
        metric.update((torch.rand(3, 2, 1), torch.ones(3, 2, 1)))
    metric.update((torch.rand(3), torch.tensor([0, 1, 1])))
    with pytest.raises(ValueError, match="Incoherent types between input y_pred"):
        metric.update((torch.ones(3, dtype=torch.float64), torch.tensor([0, 1, 1])))
    with pytest.raises(ValueError, match="same number of targets"):
        metric.update((torch.rand(3, 2), torch.ones(3, 2, dtype=torch.int64)))
    with pytest.raises(TypeError, match="pair"):
        metric.update(torch.rand(3))
    other = metric_type()
    other.update((torch.rand(3), torch.tensor([0, 1, 2])))  # targets are checked over all the data at compute
    with pytest.raises(ValueError, match="only 0s and 1s"):
        other.compute()


def test_undefined_values_raise() -> None:
    one_class = (torch.rand(4), torch.ones(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="Only one class present in y_true"):
        _fed(ROC_AUC(), list(one_class), []).compute()
    with pytest.raises(ValueError, match="both classes"):
        _fed(RocCurve(), list(one_class), []).compute()
    with pytest.raises(ValueError, match="multilabel"):
        _fed(RocCurve(), [torch.rand(4, 2), torch.ones(4, 2)], []).compute()
    with pytest.raises(ValueError, match="multilabel"):
        _fed(PrecisionRecallCurve(), [torch.rand(4, 2), torch.ones(4, 2)], []).compute()
    for metric_type in RANKING:
        with pytest.raises(NotComputableError, match=f"{metric_type.__name__} must have at least one example"):
            metric_type().compute()


def test_no_positives_give_sklearn_values_with_a_warning() -> None:
    scores, y = torch.tensor([0.3, 0.6, 0.1]), torch.zeros(3, dtype=torch.int64)
    with pytest.warns(UserWarning, match="No positive class"):
        precision, recall, _ = precision_recall_curve_compute_fn(scores, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sk.precision_recall_curve(y.numpy(), scores.numpy())
        expected_ap = sk.average_precision_score(y.numpy(), scores.numpy())
    assert precision.tolist() == pytest.approx(expected[0].tolist())
    assert recall.tolist() == pytest.approx(expected[1].tolist())
    with pytest.warns(UserWarning, match="No positive class"):
        assert average_precision_compute_fn(scores, y) == expected_ap == 0


def test_check_compute_fn_warns_on_a_first_batch_that_cannot_be_computed() -> None:
    with pytest.warns(EpochMetricWarning, match="Only one class present in y_true"):
        ROC_AUC(check_compute_fn=True).update((torch.rand(3), torch.ones(3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ROC_AUC().update((torch.rand(3), torch.ones(3)))  # off by default


def test_roc_auc_score_keeps_its_argument_order() -> None:
    assert roc_auc_score(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])) == 0.75


def test_engine_and_state_dict_resume() -> None:
    scores, y = _scores_and_targets(3, (20,), ties=False)
    engine = Engine(lambda engine, batch: batch)
    ROC_AUC().attach(engine, "auc")
    RocCurve().attach(engine, "roc")
    state = engine.run(split([scores, y], [5, 11]))
    assert state.metrics["auc"] == pytest.approx(sk.roc_auc_score(y.numpy(), scores.numpy()))
    assert state.metrics["roc"][1].numpy() == pytest.approx(sk.roc_curve(y.numpy(), scores.numpy())[1])

    first, second = AveragePrecision(), AveragePrecision()
    first.update((scores[:7], y[:7]))
    second.load_state_dict(first.state_dict())
    second.update((scores[7:], y[7:]))
    assert second.compute() == pytest.approx(sk.average_precision_score(y.numpy(), scores.numpy()))
    with pytest.raises(ValueError, match="lists of tensors"):
        second.load_state_dict({**first.state_dict(), "state": {"_predictions": [scores], "_targets": []}})
