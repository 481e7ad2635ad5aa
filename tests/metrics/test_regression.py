"""MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError and R2Score against scikit-learn."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence.metrics import MeanAbsoluteError, MeanSquaredError, NotComputableError, R2Score, RootMeanSquaredError
from tests.metrics._data import SETTINGS, cuts, generator, split

REFERENCES: list[tuple[Any, Any]] = [
    (MeanAbsoluteError, sk.mean_absolute_error),
    (MeanSquaredError, sk.mean_squared_error),
    (RootMeanSquaredError, lambda y, p: math.sqrt(sk.mean_squared_error(y, p))),
    (R2Score, sk.r2_score),
]


@pytest.mark.parametrize("metric_cls, reference", REFERENCES, ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("column", [False, True])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 40), data=st.data())
def test_matches_sklearn(metric_cls: Any, reference: Any, column: bool, seed: int, n: int, data: Any) -> None:
    g = generator(seed)
    shape = (n, 1) if column else (n,)
    y, y_pred = torch.randn(shape, generator=g).double(), torch.randn(shape, generator=g).double()
    metric = metric_cls()
    for batch in split([y_pred, y], data.draw(cuts(n))):
        metric.update(batch)
    assert metric.compute() == pytest.approx(reference(y.numpy(), y_pred.numpy()), rel=1e-9, abs=1e-12)


def test_errors_of_a_sample_are_summed_over_its_elements_as_in_ignite() -> None:
    mae = MeanAbsoluteError()
    mae.update((torch.zeros(2, 3), torch.ones(2, 3)))
    assert mae.compute() == 3.0


@pytest.mark.parametrize("metric_cls", [MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError, R2Score])
def test_bad_input(metric_cls: Any) -> None:
    metric = metric_cls()
    with pytest.raises(NotComputableError, match="at least one example"):
        metric.compute()
    with pytest.raises(ValueError, match="same shape"):
        metric.update((torch.zeros(3), torch.zeros(4)))
    with pytest.raises(TypeError, match="pair"):
        metric.update(torch.zeros(3))
    metric.update((torch.zeros(0), torch.zeros(0)))
    with pytest.raises(NotComputableError):
        metric.compute()


def test_r2_needs_a_single_output() -> None:
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 1\)"):
        R2Score().update((torch.zeros(3, 2), torch.zeros(3, 2)))
