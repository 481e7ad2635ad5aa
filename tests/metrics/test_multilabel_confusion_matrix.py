"""MultiLabelConfusionMatrix and ClassificationReport against scikit-learn."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence import Engine
from cadence.metrics import ClassificationReport, MultiLabelConfusionMatrix, NotComputableError
from tests.metrics._data import SETTINGS, cuts, generator, split


@pytest.mark.parametrize("normalized", [False, True])
@settings(**SETTINGS)
@given(
    seed=st.integers(0, 2**31), n=st.integers(1, 30), labels=st.integers(2, 5), spatial=st.booleans(), data=st.data()
)
def test_multilabel_confusion_matrix_matches_sklearn(
    normalized: bool, seed: int, n: int, labels: int, spatial: bool, data: Any
) -> None:
    g = generator(seed)
    shape = (n, labels, 2, 3) if spatial else (n, labels)
    y_pred, y = torch.randint(0, 2, shape, generator=g), torch.randint(0, 2, shape, generator=g)
    cm = MultiLabelConfusionMatrix(labels, normalized=normalized)
    for batch in split([y_pred, y], data.draw(cuts(n))):
        cm.update(batch)

    def rows(labelled: torch.Tensor) -> Any:
        return labelled.movedim(1, -1).reshape(-1, labels).numpy()

    expected = sk.multilabel_confusion_matrix(rows(y), rows(y_pred))
    if normalized:
        expected = expected / expected.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(cm.compute().numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "y_pred, y, message",
    [
        (torch.ones(4, dtype=torch.long), torch.ones(4, 3, dtype=torch.long), "y_pred must at least have shape"),
        (torch.ones(4, 3, dtype=torch.long), torch.ones(4, dtype=torch.long), "y must at least have shape"),
        (torch.ones(4, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long), "different batch size: 4 vs 2"),
        (torch.ones(4, 2, dtype=torch.long), torch.ones(4, 3, dtype=torch.long), "y_pred does not have correct number"),
        (torch.ones(4, 3, 2, dtype=torch.long), torch.ones(4, 3, dtype=torch.long), "shapes must match"),
        (torch.rand(4, 3), torch.ones(4, 3, dtype=torch.long), "y_pred must be of any type"),
        (torch.ones(4, 3, dtype=torch.long) * 2, torch.ones(4, 3, dtype=torch.long), "y_pred must be a binary tensor"),
    ],
)
def test_multilabel_confusion_matrix_errors(y_pred: torch.Tensor, y: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MultiLabelConfusionMatrix(3).update((y_pred, y))


def test_multilabel_confusion_matrix_needs_data_and_labels() -> None:
    with pytest.raises(ValueError, match="num_classes needs to be > 1"):
        MultiLabelConfusionMatrix(1)
    with pytest.raises(NotComputableError, match="Confusion matrix must have at least one example"):
        MultiLabelConfusionMatrix(3).compute()


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("output_dict", [False, True])
def test_classification_report_matches_sklearn(multilabel: bool, output_dict: bool) -> None:
    g = generator(5)
    if multilabel:
        y_pred, y = torch.randint(0, 2, (40, 4), generator=g), torch.randint(0, 2, (40, 4), generator=g)
        truth, predicted = y.numpy(), y_pred.numpy()
    else:
        y_pred, y = torch.rand(40, 4, generator=g), torch.randint(0, 4, (40,), generator=g)
        truth, predicted = y.numpy(), y_pred.argmax(1).numpy()
    report = ClassificationReport(output_dict=output_dict, is_multilabel=multilabel, labels=["a", "b", "c", "d"])
    engine = Engine(lambda engine, batch: batch)
    report.attach(engine, "report")
    result = engine.run(split([y_pred, y], [13, 29])).metrics["report"]
    result = result if output_dict else json.loads(result)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sk.classification_report(truth, predicted, output_dict=True, zero_division=0)
    for name, key in zip("abcd", ["0", "1", "2", "3"], strict=True):
        for field in ("precision", "recall", "f1-score"):
            assert result[name][field] == pytest.approx(expected[key][field])
    for field in ("precision", "recall", "f1-score"):
        assert result["macro avg"][field] == pytest.approx(expected["macro avg"][field])


def test_classification_report_errors() -> None:
    with pytest.raises(ValueError, match="Beta should be a positive"):
        ClassificationReport(beta=0)
    report = ClassificationReport(labels=["only one"])
    report.update((torch.rand(4, 3), torch.tensor([0, 1, 2, 1])))
    with pytest.raises(ValueError, match="one name per class"):
        report.compute()
