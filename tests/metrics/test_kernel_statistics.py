"""MaximumMeanDiscrepancy and HSIC against direct NumPy formulas, batch by batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cadence.metrics import HSIC, MaximumMeanDiscrepancy, NotComputableError


def pairwise_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([[float(np.sum((ai - bj) ** 2)) for bj in b] for ai in a])


def np_mmd2(x: np.ndarray, y: np.ndarray, var: float) -> float:
    n = len(x)
    k = lambda a, b: np.exp(-pairwise_sq(a, b) / (2 * var))  # noqa: E731  # the kernel, inline
    off = 1 - np.eye(n)
    return float((k(x, x) * off).sum() / (n * (n - 1)) + (k(y, y) * off).sum() / (n * (n - 1)) - 2 * k(x, y).mean())


def np_hsic(x: np.ndarray, y: np.ndarray, sigma_x: float, sigma_y: float) -> float:
    b = len(x)
    grams = []
    for samples, sigma in ((x, sigma_x), (y, sigma_y)):
        distances = pairwise_sq(samples, samples)
        bandwidth = np.median(distances) if sigma < 0 else sigma**2
        grams.append(np.exp(-0.5 * distances / bandwidth) * (1 - np.eye(b)))
    k, l = grams  # noqa: E741  # the paper's names
    ones = np.ones(b)
    value = np.trace(k @ l) + (ones @ k @ ones) * (ones @ l @ ones) / ((b - 1) * (b - 2))
    value -= 2 / (b - 2) * ones @ k @ l @ ones
    return max(float(value / (b * (b - 3))), 0.0)


def batches(seed: int, sizes: list[int], dims: tuple[int, int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for size in sizes:
        x = torch.randn(size, dims[0], generator=g)
        out.append((x, torch.sin(x[:, : dims[1]] * 2) + 0.3 * torch.randn(size, dims[1], generator=g)))
    return out


@pytest.mark.parametrize("var", [0.5, 2.0])
def test_mmd_is_the_root_of_the_mean_batch_mmd2(var: float) -> None:
    data = batches(0, [3, 5, 7, 2], (4, 4))
    metric = MaximumMeanDiscrepancy(var=var)
    for x, y in data:
        metric.update((x, y + 0.5))
    expected = np.mean([np_mmd2(x.double().numpy(), (y + 0.5).double().numpy(), var) for x, y in data])
    assert metric.compute() == pytest.approx(math.sqrt(max(expected, 0.0)), rel=1e-9)


def test_mmd_of_images_flattens_each_sample() -> None:
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(6, 2, 3, 3, generator=g), torch.rand(6, 2, 3, 3, generator=g)
    metric = MaximumMeanDiscrepancy()
    metric.update((x, y))
    expected = np_mmd2(x.reshape(6, -1).double().numpy(), y.reshape(6, -1).double().numpy(), 1.0)
    assert metric.compute() == pytest.approx(math.sqrt(max(expected, 0.0)), rel=1e-9)


@pytest.mark.parametrize("sigma_x, sigma_y", [(-1.0, -1.0), (1.0, 2.0), (-1.0, 0.5)])
def test_hsic_is_the_mean_batch_estimate(sigma_x: float, sigma_y: float) -> None:
    data = batches(1, [9, 5, 12, 3], (5, 3))
    metric = HSIC(sigma_x=sigma_x, sigma_y=sigma_y)
    for batch in data:
        metric.update(batch)
    kept = [(x.double().numpy(), y.double().numpy()) for x, y in data if len(x) >= 4]  # the batch of 3 is skipped
    expected = np.mean([np_hsic(x, y, sigma_x, sigma_y) for x, y in kept])
    assert metric.compute() == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_hsic_is_larger_for_dependent_data() -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.randn(40, 3, generator=g)
    dependent, independent = HSIC(), HSIC()
    dependent.update((x, x**2))
    independent.update((x, torch.randn(40, 3, generator=g)))
    assert dependent.compute() > 5 * independent.compute()


def test_errors() -> None:
    with pytest.raises(NotComputableError, match="must have at least one batch"):
        MaximumMeanDiscrepancy().compute()
    with pytest.raises(NotComputableError, match="HSIC must have at least one batch"):
        HSIC().compute()
    with pytest.raises(ValueError, match="x and y must be in the same shape"):
        MaximumMeanDiscrepancy().update((torch.zeros(3, 2), torch.zeros(3, 3)))
    with pytest.raises(ValueError, match=r"x must be in the shape of \(B, ...\)"):
        MaximumMeanDiscrepancy().update((torch.zeros(3), torch.zeros(3)))
    with pytest.raises(ValueError, match="at least 2 samples per batch"):
        MaximumMeanDiscrepancy().update((torch.zeros(1, 2), torch.zeros(1, 2)))
    with pytest.raises(ValueError, match="positive number"):
        MaximumMeanDiscrepancy(var=0.0)
    with pytest.raises(ValueError, match="sigma_x must be a positive kernel width"):
        HSIC(sigma_x=0)
    with pytest.raises(ValueError, match="A batch must contain more than four samples"):
        HSIC(ignore_invalid_batch=False).update((torch.zeros(3, 2), torch.zeros(3, 2)))
    with pytest.raises(ValueError, match="same number of samples"):
        HSIC().update((torch.zeros(5, 2), torch.zeros(4, 2)))
    identical = HSIC()
    identical.update((torch.ones(5, 2), torch.randn(5, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        identical.compute()


def test_an_empty_batch_is_skipped_and_state_dict_resumes() -> None:
    data = batches(2, [4, 6], (3, 3))
    whole, first, resumed = HSIC(), HSIC(), HSIC()
    for batch in data:
        whole.update(batch)
    first.update(data[0])
    first.update((torch.zeros(0, 3), torch.zeros(0, 3)))
    resumed.load_state_dict(first.state_dict())
    resumed.update(data[1])
    assert resumed.compute() == pytest.approx(whole.compute(), rel=1e-12)
    mmd = MaximumMeanDiscrepancy()
    mmd.update((torch.zeros(0, 3), torch.zeros(0, 3)))
    with pytest.raises(NotComputableError):
        mmd.compute()
