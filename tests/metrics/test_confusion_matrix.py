"""ConfusionMatrix, IoU and mIoU against scikit-learn."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence.metrics import ConfusionMatrix, ConfusionMatrixAverage, IoU, NotComputableError, Precision, mIoU
from cadence.metrics.confusion_matrix import DiceCoefficient, JaccardIndex, cmAccuracy, cmPrecision, cmRecall
from tests.metrics._data import SETTINGS, cuts, multiclass, split

NORMALIZE = {None: None, "samples": None, "recall": "true", "precision": "pred"}  # samples: counts / n, as Ignite


@pytest.mark.parametrize("average", list(NORMALIZE))
@settings(**SETTINGS)
@given(
    seed=st.integers(0, 2**31), n=st.integers(1, 40), classes=st.integers(2, 6), spatial=st.booleans(), data=st.data()
)
def test_confusion_matrix_matches_sklearn(
    average: str | None, seed: int, n: int, classes: int, spatial: bool, data: Any
) -> None:
    y_pred, y = multiclass(seed, n, classes, (2, 3) if spatial else ())
    cm = ConfusionMatrix(classes, average=average)
    for batch in split([y_pred, y], data.draw(cuts(n))):
        cm.update(batch)
    expected = sk.confusion_matrix(
        y.reshape(-1).numpy(), y_pred.argmax(1).reshape(-1).numpy(), labels=list(range(classes)),
        normalize=NORMALIZE[average],
    )  # fmt: skip
    if average == "samples":
        expected = expected / n
    np.testing.assert_allclose(cm.compute().numpy(), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("average", list(NORMALIZE))
def test_confusion_matrix_matches_ignite_on_segmentation_data_with_ignored_targets(average: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ignite_metrics = pytest.importorskip("ignite.metrics")
    y_pred, y = multiclass(0, 5, 3, (4, 4))
    y[0, 0] = 255
    ours, theirs = ConfusionMatrix(3, average=average), ignite_metrics.ConfusionMatrix(3, average=average)
    for batch in split([y_pred, y], [2, 2]):
        ours.update(batch)
        theirs.update(batch)
    torch.testing.assert_close(ours.compute(), theirs.compute(), check_dtype=False)


@pytest.mark.parametrize("ignore_index", [None, 0, 2])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), data=st.data())
def test_iou_and_miou_match_sklearn_jaccard(ignore_index: int | None, seed: int, n: int, data: Any) -> None:
    classes = 4
    y_pred, y = multiclass(seed, n, classes)
    cm = ConfusionMatrix(classes)
    iou, miou = IoU(cm, ignore_index=ignore_index), mIoU(cm, ignore_index=ignore_index)
    for batch in split([y_pred, y], data.draw(cuts(n))):
        cm.update(batch)
    expected = sk.jaccard_score(
        y.numpy(), y_pred.argmax(1).numpy(), average=None, labels=list(range(classes)), zero_division=0
    )
    if ignore_index is not None:
        expected = np.delete(expected, ignore_index)
    np.testing.assert_allclose(iou.compute().numpy(), expected, atol=1e-12)
    assert miou.compute().item() == pytest.approx(expected.mean())


def test_targets_outside_the_classes_are_not_counted() -> None:
    cm = ConfusionMatrix(3)
    cm.update((torch.eye(3)[[0, 1, 2, 0]], torch.tensor([0, 255, 2, -1])))
    assert cm.compute().tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]


def test_compute_before_update_is_not_computable() -> None:
    with pytest.raises(NotComputableError):
        ConfusionMatrix(3).compute()


@pytest.mark.parametrize(
    "y_pred, y, message",
    [
        (torch.randn(4, 2), torch.zeros(4, dtype=torch.long), "correct number of classes: 2 vs 3"),
        (torch.randn(4), torch.zeros(4, dtype=torch.long), r"num_classes \(currently set to 3\)"),
        (torch.randn(4, 3), torch.zeros(5, dtype=torch.long), "compatible shapes"),
        (torch.randn(4, 3, 2), torch.zeros(4, 3, dtype=torch.long), "compatible shapes"),
        (torch.randn(4, 3, 2), torch.zeros(4, dtype=torch.long), "y must have shape of"),
    ],
)
def test_bad_shapes_are_refused(y_pred: torch.Tensor, y: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(3).update((y_pred, y))


def test_float_targets_are_refused() -> None:
    with pytest.raises(TypeError, match="integer class indices"):
        ConfusionMatrix(3).update((torch.randn(4, 3), torch.full((4,), 0.5)))


@pytest.mark.parametrize(
    "kwargs, message", [({"num_classes": 1}, "needs to be > 1"), ({"num_classes": 3.0}, "needs to be > 1")]
)
def test_bad_num_classes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(**kwargs)


def test_unknown_average_is_refused() -> None:
    with pytest.raises(ValueError, match=r"average can None or one of .* got 'macro'"):
        ConfusionMatrix(3, average="macro")
    assert ConfusionMatrix(3, average=ConfusionMatrixAverage.RECALL).average_mode is ConfusionMatrixAverage.RECALL
    assert ConfusionMatrix(3, average=ConfusionMatrixAverage.RECALL).average == "recall"  # as Ignite spells it
    assert ConfusionMatrix(3).average is None


def test_iou_bad_arguments() -> None:
    with pytest.raises(TypeError, match="should be instance of ConfusionMatrix"):
        IoU(Precision())  # type: ignore[arg-type]  # the error path under test
    with pytest.raises(ValueError, match="either None or 'samples'"):
        IoU(ConfusionMatrix(3, average="recall"))
    with pytest.raises(ValueError, match=r"ignore_index should be integer and in the range of \[0, 3\)"):
        mIoU(ConfusionMatrix(3), ignore_index=3)


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), classes=st.integers(2, 6), data=st.data())
def test_metrics_built_on_the_matrix_match_sklearn(seed: int, n: int, classes: int, data: Any) -> None:
    y_pred, y = multiclass(seed, n, classes)
    cm = ConfusionMatrix(classes)
    built = {
        "dice": DiceCoefficient(cm),
        "jaccard": JaccardIndex(cm, ignore_index=0),
        "accuracy": cmAccuracy(cm),
        "precision": cmPrecision(cm, average=False),
        "macro_precision": cmPrecision(cm),
        "recall": cmRecall(cm, average=False),
        "macro_recall": cmRecall(cm),
    }
    for batch in split([y_pred, y], data.draw(cuts(n))):
        cm.update(batch)
    truth, predicted = y.numpy(), y_pred.argmax(1).numpy()
    labels = list(range(classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes never predicted or never true: 0, as ours
        expected = {
            "dice": sk.f1_score(truth, predicted, labels=labels, average=None, zero_division=0),
            "jaccard": sk.jaccard_score(truth, predicted, labels=labels, average=None, zero_division=0)[1:],
            "accuracy": sk.accuracy_score(truth, predicted),
            "precision": sk.precision_score(truth, predicted, labels=labels, average=None, zero_division=0),
            "macro_precision": sk.precision_score(truth, predicted, labels=labels, average="macro", zero_division=0),
            "recall": sk.recall_score(truth, predicted, labels=labels, average=None, zero_division=0),
            "macro_recall": sk.recall_score(truth, predicted, labels=labels, average="macro", zero_division=0),
        }
    for name, metric in built.items():
        np.testing.assert_allclose(metric.compute().numpy(), expected[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("make", [DiceCoefficient, JaccardIndex, cmAccuracy, cmPrecision, cmRecall])
def test_metrics_built_on_the_matrix_need_one(make: Any) -> None:
    with pytest.raises(TypeError, match="should be instance of ConfusionMatrix"):
        make(Precision())


@pytest.mark.parametrize("ignore_index", [-1, 3, "a", True])
def test_dice_refuses_a_bad_ignore_index(ignore_index: Any) -> None:
    with pytest.raises(ValueError, match=r"ignore_index should be integer and in the range of \[0, 3\)"):
        DiceCoefficient(ConfusionMatrix(3), ignore_index=ignore_index)


def test_normalize() -> None:
    matrix = torch.tensor([[3, 1], [0, 2]])
    precision = ConfusionMatrix.normalize(matrix, "precision")
    np.testing.assert_allclose(precision.numpy(), [[1.0, 1 / 3], [0.0, 2 / 3]], rtol=1e-12)
    recall = ConfusionMatrix.normalize(matrix, ConfusionMatrixAverage.RECALL)
    np.testing.assert_allclose(recall.numpy(), [[0.75, 0.25], [0.0, 1.0]], rtol=1e-12)
    for average in (None, "samples"):
        with pytest.raises(ValueError, match="should be one of 'samples', 'recall', 'precision'"):
            ConfusionMatrix.normalize(matrix, average)
