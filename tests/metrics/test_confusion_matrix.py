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
        (torch.randn(4, 2), torch.zeros(4, dtype=torch.long), r"shape \(batch_size, 3, ...\)"),
        (torch.randn(4), torch.zeros(4, dtype=torch.long), r"shape \(batch_size, 3, ...\)"),
        (torch.randn(4, 3), torch.zeros(5, dtype=torch.long), "y of shape"),
        (torch.randn(4, 3, 2), torch.zeros(4, 3, dtype=torch.long), "y of shape"),
    ],
)
def test_bad_shapes_are_refused(y_pred: torch.Tensor, y: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(3).update((y_pred, y))


def test_float_targets_are_refused() -> None:
    with pytest.raises(TypeError, match="integer class indices"):
        ConfusionMatrix(3).update((torch.randn(4, 3), torch.zeros(4)))


@pytest.mark.parametrize(
    "kwargs, message", [({"num_classes": 1}, "integer > 1"), ({"num_classes": 3.0}, "integer > 1")]
)
def test_bad_num_classes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(**kwargs)


def test_unknown_average_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown ConfusionMatrix average 'macro'"):
        ConfusionMatrix(3, average="macro")
    assert ConfusionMatrix(3, average=ConfusionMatrixAverage.RECALL).average is ConfusionMatrixAverage.RECALL


def test_iou_bad_arguments() -> None:
    with pytest.raises(TypeError, match="needs a ConfusionMatrix"):
        IoU(Precision())  # type: ignore[arg-type]  # the error path under test
    with pytest.raises(ValueError, match="average None or 'samples'"):
        IoU(ConfusionMatrix(3, average="recall"))
    with pytest.raises(ValueError, match=r"ignore_index must be a class index in \[0, 3\)"):
        mIoU(ConfusionMatrix(3), ignore_index=3)
