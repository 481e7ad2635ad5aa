"""ROC_AUC against scikit-learn."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence.metrics import ROC_AUC, NotComputableError
from tests.metrics._data import SETTINGS, cuts, generator, split


@pytest.mark.parametrize("targets", [None, 1, 3])
@pytest.mark.parametrize("ties", [False, True])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(4, 40), data=st.data())
def test_matches_sklearn(targets: int | None, ties: bool, seed: int, n: int, data: Any) -> None:
    g = generator(seed)
    shape = (n,) if targets is None else (n, targets)
    scores = torch.rand(shape, generator=g)
    if ties:
        scores = (scores * 4).round() / 4
    y = torch.randint(0, 2, shape, generator=g)
    y[0], y[1] = 0, 1  # both classes in every column
    auc = ROC_AUC()
    for batch in split([scores, y], data.draw(cuts(n))):
        auc.update(batch)
    expected = sk.roc_auc_score(y.numpy(), scores.numpy())
    assert auc.compute() == pytest.approx(expected, rel=1e-9)


def test_errors() -> None:
    auc = ROC_AUC()
    with pytest.raises(NotComputableError):
        auc.compute()
    with pytest.raises(ValueError, match="same shape"):
        auc.update((torch.rand(3), torch.ones(4)))
    with pytest.raises(ValueError, match="only 0s and 1s"):
        auc.update((torch.rand(3), torch.tensor([0, 1, 2])))
    auc.update((torch.rand(3), torch.ones(3)))
    with pytest.raises(ValueError, match="same number of targets"):
        auc.update((torch.rand(3, 2), torch.ones(3, 2)))
    with pytest.raises(ValueError, match="only one class"):
        auc.compute()


def test_check_compute_fn_warns_on_a_first_batch_that_cannot_be_computed() -> None:
    with pytest.warns(UserWarning, match="first batch"):
        ROC_AUC(check_compute_fn=True).update((torch.rand(3), torch.ones(3)))
