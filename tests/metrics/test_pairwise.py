"""CosineSimilarity and MeanPairwiseDistance against torch's functional reference and NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.metrics import CosineSimilarity, MeanPairwiseDistance, NotComputableError
from tests.metrics._data import SETTINGS, cuts, generator, split


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 30), data=st.data())
def test_cosine_similarity_matches_numpy(seed: int, n: int, data: Any) -> None:
    g = generator(seed)
    y_pred, y = torch.randn(n, 3, 2, generator=g).double(), torch.randn(n, 3, 2, generator=g).double()
    metric = CosineSimilarity()
    for batch in split([y_pred, y], data.draw(cuts(n))):
        metric.update(batch)
    a, b = y_pred.reshape(n, -1).numpy(), y.reshape(n, -1).numpy()
    expected = np.mean((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
    assert metric.compute() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("p", [1, 2, 3])
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 30), data=st.data())
def test_mean_pairwise_distance_matches_numpy(p: int, seed: int, n: int, data: Any) -> None:
    g = generator(seed)
    y_pred, y = torch.randn(n, 4, generator=g).double(), torch.randint(-3, 3, (n, 4), generator=g)
    metric = MeanPairwiseDistance(p=p, eps=1e-6)
    for batch in split([y_pred, y], data.draw(cuts(n))):
        metric.update(batch)
    expected = np.mean(np.linalg.norm(y_pred.numpy() - y.numpy() + 1e-6, ord=p, axis=1))
    assert metric.compute() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("make", [CosineSimilarity, MeanPairwiseDistance])
def test_bad_input(make: Any) -> None:
    metric = make()
    with pytest.raises(NotComputableError, match="at least one example"):
        metric.compute()
    with pytest.raises(ValueError, match="same shape"):
        metric.update((torch.zeros(2, 3), torch.zeros(2, 4)))
    with pytest.raises(TypeError, match="pair"):
        metric.update(torch.zeros(2, 3))


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="eps > 0"):
        CosineSimilarity(eps=0.0)
    with pytest.raises(ValueError, match="p > 0"):
        MeanPairwiseDistance(p=0)
