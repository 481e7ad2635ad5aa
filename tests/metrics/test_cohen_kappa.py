"""CohenKappa and MatthewsCorrCoef against scikit-learn."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence.metrics import CohenKappa, MatthewsCorrCoef, NotComputableError
from cadence.metrics.matthews_corrcoef import matthews_corrcoef_compute_fn
from tests.metrics._data import SETTINGS, cuts, generator, split


def _labels(seed: int, n: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = generator(seed)
    y_pred, y = torch.randint(0, classes, (n,), generator=g), torch.randint(0, classes, (n,), generator=g)
    y_pred[:classes], y[:classes] = torch.arange(classes), torch.arange(classes).flip(0)  # every label present
    return y_pred, y


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 40), classes=st.integers(2, 5), data=st.data())
def test_cohen_kappa_matches_sklearn(weights: str | None, seed: int, n: int, classes: int, data: Any) -> None:
    y_pred, y = _labels(seed, n, classes)
    points = data.draw(cuts(n))
    for kappa in (CohenKappa(weights=weights), CohenKappa(weights=weights, num_classes=classes)):
        for batch in split([y_pred, y], points):
            kappa.update(batch)
        expected = sk.cohen_kappa_score(y.numpy(), y_pred.numpy(), weights=weights)
        assert kappa.compute() == pytest.approx(expected, abs=1e-9)


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 40), classes=st.integers(2, 5), scores=st.booleans())
def test_matthews_corrcoef_matches_sklearn(seed: int, n: int, classes: int, scores: bool) -> None:
    y_pred, y = _labels(seed, n, classes)
    mcc = MatthewsCorrCoef()
    fed = torch.nn.functional.one_hot(y_pred, classes).double() if scores else y_pred
    mcc.update((fed[: n // 2], y[: n // 2]))
    mcc.update((fed[n // 2 :], y[n // 2 :]))
    assert mcc.compute() == pytest.approx(sk.matthews_corrcoef(y.numpy(), y_pred.numpy()), abs=1e-9)


def test_constant_predictions_give_zero_as_sklearn() -> None:
    y_pred, y = torch.zeros(4, dtype=torch.long), torch.tensor([0, 1, 0, 1])
    assert matthews_corrcoef_compute_fn(y_pred, y) == sk.matthews_corrcoef(y.numpy(), y_pred.numpy()) == 0.0
    kappa = CohenKappa()
    kappa.update((y_pred, y))
    assert kappa.compute() == pytest.approx(sk.cohen_kappa_score(y.numpy(), y_pred.numpy()))


def test_errors() -> None:
    for weights in (7, "dd"):
        with pytest.raises(ValueError, match="Kappa Weighting type must be"):
            CohenKappa(weights=weights)  # type: ignore[arg-type]
    with pytest.raises(NotComputableError, match="CohenKappa must have at least one example"):
        CohenKappa().compute()
    with pytest.raises(NotComputableError, match="Confusion matrix must have at least one example"):
        CohenKappa(num_classes=3).compute()
    kappa = CohenKappa()
    kappa.update((torch.randint(0, 2, (4, 3)), torch.randint(0, 2, (4, 3))))
    with pytest.raises(ValueError, match="multilabel-indicator is not supported"):
        kappa.compute()
    with pytest.raises(ValueError, match="labels must be < num_classes"):
        CohenKappa(num_classes=2).update((torch.tensor([0, 2]), torch.tensor([0, 1])))
    fractional = (torch.tensor([0.5, 1.0]), torch.tensor([0, 1]))
    negative = (torch.tensor([-1, 0]), torch.tensor([0, 1]))
    for bad, message in ((fractional, "fractional"), (negative, ">= 0")):
        kappa = CohenKappa()
        kappa.update(bad)
        with pytest.raises(ValueError, match=message):
            kappa.compute()
    with pytest.raises(ValueError, match="Incoherent types between input y_pred"):
        matthews_corrcoef_compute_fn(torch.tensor([0, 1]), torch.eye(2))
