"""Entropy, MutualInformation, KLDivergence and JSDivergence against SciPy on odd-sized batches."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.special import softmax
from scipy.stats import entropy as scipy_entropy

from cadence.metrics import Entropy, JSDivergence, KLDivergence, Metric, MutualInformation, NotComputableError


def odd_batches(y_pred: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    cuts, position, size = [], 0, 1
    while position < len(y_pred):
        cuts.append((y_pred[position : position + size], y[position : position + size]))
        position, size = position + size, size + 2
    return cuts


def logits(seed: int, *shape: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * 3, torch.randn(*shape, generator=g)


def fed(metric: Metric, y_pred: torch.Tensor, y: torch.Tensor) -> Any:
    for batch in odd_batches(y_pred, y):
        metric.update(batch)
    return metric.compute()


def rows(t: torch.Tensor) -> np.ndarray:
    """(B, C, ...) -> (B * ..., C) probabilities, as NumPy."""
    t = t.movedim(1, -1).reshape(-1, t.shape[1]) if t.dim() > 2 else t
    return softmax(t.double().numpy(), axis=1)


@pytest.mark.parametrize("shape", [(40, 5), (17, 3, 4, 2)])
def test_entropy_and_mutual_information_match_scipy(shape: tuple[int, ...]) -> None:
    y_pred, y = logits(0, *shape)
    p = rows(y_pred)
    entropies = scipy_entropy(p, axis=1)
    assert fed(Entropy(), y_pred, y) == pytest.approx(entropies.mean(), rel=1e-10)
    expected_mi = max(scipy_entropy(p.mean(axis=0)) - entropies.mean(), 0.0)
    assert fed(MutualInformation(), y_pred, y) == pytest.approx(expected_mi, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("shape", [(40, 5), (17, 3, 4, 2)])
def test_kl_and_js_divergences_match_scipy(shape: tuple[int, ...]) -> None:
    y_pred, y = logits(1, *shape)
    q, p = rows(y_pred), rows(y)
    assert fed(KLDivergence(), y_pred, y) == pytest.approx(scipy_entropy(p, q, axis=1).mean(), rel=1e-10)
    assert fed(JSDivergence(), y_pred, y) == pytest.approx((jensenshannon(p, q, axis=1) ** 2).mean(), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6))
def test_divergence_rules_hold_for_any_logits(seed: int, classes: int) -> None:
    y_pred, y = logits(seed, 9, classes)
    kl, js, js_reversed = KLDivergence(), JSDivergence(), JSDivergence()
    kl.update((y_pred, y))
    js.update((y_pred, y))
    js_reversed.update((y, y_pred))
    assert kl.compute() >= 0.0
    assert js.compute() == pytest.approx(js_reversed.compute(), rel=1e-9, abs=1e-12)
    assert 0.0 <= js.compute() <= math.log(2) + 1e-12
    same = KLDivergence()
    same.update((y, y + 5.0))  # a shift of all logits is the same distribution
    assert same.compute() == pytest.approx(0.0, abs=1e-12)
    entropy = Entropy()
    entropy.update((y_pred, y))
    assert 0.0 <= entropy.compute() <= math.log(classes) + 1e-12


def test_probability_zero_classes_add_nothing() -> None:
    certain = torch.tensor([[0.0, -math.inf]])
    entropy, kl = Entropy(), KLDivergence()
    entropy.update((certain, None))
    kl.update((torch.zeros(1, 2), certain))
    assert entropy.compute() == 0.0
    assert kl.compute() == pytest.approx(math.log(2))


@pytest.mark.parametrize("make", [Entropy, MutualInformation, KLDivergence, JSDivergence])
def test_bad_inputs_and_empty_metrics_are_refused(make: type[Metric]) -> None:
    with pytest.raises(NotComputableError, match="must have at least one example"):
        make().compute()
    with pytest.raises(ValueError, match=r"must be in the shape of \(B, C\) or \(B, C, ...\)"):
        make().update((torch.zeros(3), torch.zeros(3)))
    with pytest.raises(TypeError, match="floating-point logits"):
        make().update((torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long)))
    with pytest.raises(TypeError, match=r"takes a pair \(y_pred, y\)"):
        make().update(torch.zeros(3, 2))
    metric = make()
    metric.update((torch.tensor([[math.nan, 0.0]]), torch.zeros(1, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        metric.compute()


@pytest.mark.parametrize("make", [KLDivergence, JSDivergence])
def test_divergences_need_inputs_of_one_shape(make: type[Metric]) -> None:
    with pytest.raises(ValueError, match="y_pred and y must be in the same shape"):
        make().update((torch.zeros(3, 2), torch.zeros(3, 3)))


def test_state_dict_resumes_mutual_information_exactly() -> None:
    y_pred, y = logits(2, 30, 4)
    whole, first, resumed = MutualInformation(), MutualInformation(), MutualInformation()
    whole.update((y_pred, y))
    first.update((y_pred[:11], y[:11]))
    resumed.load_state_dict(first.state_dict())
    resumed.update((y_pred[11:], y[11:]))
    assert resumed.compute() == pytest.approx(whole.compute(), rel=1e-12)
