"""Kernel two-sample and independence statistics, estimated per batch and averaged over batches:
:class:`MaximumMeanDiscrepancy` and :class:`HSIC` (Gaussian RBF kernels).

Over several processes the average runs over the batches of all processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["HSIC", "MaximumMeanDiscrepancy"]


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a_i - b_j||^2`` for every pair of rows, in float64 (never below 0 from rounding)."""
    cross = a @ b.T
    return ((a * a).sum(dim=1, keepdim=True) + (b * b).sum(dim=1) - 2.0 * cross).clamp_(min=0.0)


def _samples(value: torch.Tensor) -> torch.Tensor:
    return value.detach().flatten(start_dim=1).double() if value.dim() > 1 else value.detach().double()


def _median(values: torch.Tensor) -> torch.Tensor:
    """The median of all entries, averaging the two middle ones when their number is even (as NumPy)."""
    ordered = values.flatten().sort().values
    middle = ordered.numel() // 2
    return ordered[middle] if ordered.numel() % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _mean_per_batch(total: torch.Tensor, num_batches: int, kind: str) -> float:
    total, num_batches = reduced(total), reduced(num_batches)
    if num_batches == 0:
        raise NotComputableError(f"{kind} must have at least one batch before it can be computed.")
    if not torch.isfinite(total):
        raise ValueError(
            f"{kind} got a NaN or infinite value: check the inputs (NaN, or all samples of a batch identical "
            "with the median bandwidth)."
        )
    return total.item() / num_batches


class MaximumMeanDiscrepancy(Metric):
    """The maximum mean discrepancy between the samples ``x`` and ``y`` of each batch, with the Gaussian kernel
    ``k(a, b) = exp(-||a - b||^2 / (2 var))``: ``sqrt(mean over batches of MMD^2)``, each batch's ``MMD^2``
    the unbiased within-sample terms minus twice the cross term (the mean is clamped at 0).

    ``update`` takes ``(x, y)`` of the same shape ``(B, ...)`` with ``B >= 2`` (an empty batch is skipped).

    Args:
        var: the kernel's bandwidth ``sigma^2`` (positive).
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> mmd = MaximumMeanDiscrepancy()
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> mmd.update((x, x))
        >>> mmd.compute()
        0.0
    """

    _state_names = ("_xx_sum", "_yy_sum", "_xy_sum", "_num_batches")

    def __init__(
        self,
        var: float = 1.0,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(var, bool) or not isinstance(var, int | float) or not var > 0:
            raise ValueError(f"var, the kernel's bandwidth sigma^2, must be a positive number, got {var!r}.")
        self.var = float(var)
        super().__init__(output_transform, device, skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"var": self.var}

    def reset(self) -> None:
        """Forget all batches seen."""
        self._xx_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._yy_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._xy_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_batches = 0

    def update(self, output: Any) -> None:
        """Add the kernel means of one batch ``(x, y)``."""
        x, y = as_pair(output, "MaximumMeanDiscrepancy")
        if x.shape != y.shape:
            raise ValueError(f"x and y must be in the same shape, got {tuple(x.shape)} != {tuple(y.shape)}.")
        if x.dim() < 2:
            raise ValueError(f"x must be in the shape of (B, ...), got {tuple(x.shape)}.")
        x, y = _samples(x), _samples(y)
        n = x.shape[0]
        if n == 0:
            return
        if n == 1:
            raise ValueError(
                "MaximumMeanDiscrepancy needs at least 2 samples per batch (its within-sample terms leave out "
                "each sample's pair with itself); use drop_last=True or another batch size."
            )
        scale = -0.5 / self.var
        within = n * (n - 1)
        self._xx_sum += ((_squared_distances(x, x) * scale).exp().sum() - n).div(within).to(self._device)
        self._yy_sum += ((_squared_distances(y, y) * scale).exp().sum() - n).div(within).to(self._device)
        self._xy_sum += (_squared_distances(x, y) * scale).exp().mean().to(self._device)
        self._num_batches += 1

    def compute(self) -> float:
        """The square root of the mean ``MMD^2`` over batches."""
        total = (self._xx_sum + self._yy_sum - 2.0 * self._xy_sum).reshape(())
        # The empty-metric error is spelt as Ignite spells it ("Discrepacy"): code written for Ignite matches on it.
        mean = _mean_per_batch(total, self._num_batches, "MaximumMeanDiscrepacy")
        return float(max(mean, 0.0) ** 0.5)


class HSIC(Metric):
    """The Hilbert-Schmidt Independence Criterion between ``y_pred`` and ``y``: the unbiased estimator of
    Song et al. (2012) on each batch, with Gaussian kernels, averaged over batches (each clamped at 0).

    It is 0 when the two are independent. ``update`` takes ``(y_pred, y)`` with the same batch size ``B``
    (features may differ: ``(B, ...)`` each, flattened per sample); ``B`` must be at least 4.

    Args:
        sigma_x: the kernel width of ``y_pred``; a negative value uses the median of the batch's squared
            distances as the bandwidth ``sigma^2``.
        sigma_y: the same for ``y``.
        ignore_invalid_batch: skip a batch of fewer than 4 samples (``True``) or raise ``ValueError``.
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> hsic = HSIC()
        >>> x = torch.arange(50.0).reshape(10, 5)
        >>> hsic.update((x, torch.sin(x * torch.pi * 2 / 50)))
        >>> round(hsic.compute(), 4)
        0.0923
    """

    _state_names = ("_sum_of_hsic", "_num_batches")

    def __init__(
        self,
        sigma_x: float = -1,
        sigma_y: float = -1,
        ignore_invalid_batch: bool = True,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        for name, sigma in (("sigma_x", sigma_x), ("sigma_y", sigma_y)):
            if isinstance(sigma, bool) or not isinstance(sigma, int | float) or sigma == 0:
                raise ValueError(
                    f"{name} must be a positive kernel width, or negative for the median heuristic, got {sigma!r}."
                )
        self.sigma_x = float(sigma_x)
        self.sigma_y = float(sigma_y)
        self.ignore_invalid_batch = ignore_invalid_batch
        super().__init__(output_transform, device, skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"sigma_x": self.sigma_x, "sigma_y": self.sigma_y}

    def reset(self) -> None:
        """Forget all batches seen."""
        self._sum_of_hsic = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_batches = 0

    @staticmethod
    def _gram(samples: torch.Tensor, sigma: float) -> torch.Tensor:
        distances = _squared_distances(samples, samples)
        bandwidth = _median(distances) if sigma < 0 else torch.tensor(sigma * sigma, dtype=distances.dtype)
        gram = torch.exp(-0.5 * distances / bandwidth)
        return gram.fill_diagonal_(0.0)

    def update(self, output: Any) -> None:
        """Add the HSIC estimate of one batch ``(y_pred, y)``."""
        x, y = (_samples(value) for value in as_pair(output, "HSIC"))
        b = x.shape[0]
        if y.shape[0] != b:
            raise ValueError(f"y_pred and y must hold the same number of samples, got {b} and {y.shape[0]}.")
        if b < 4:
            if self.ignore_invalid_batch:
                return
            raise ValueError(
                f"A batch must contain more than four samples, got only {b} samples: HSIC's unbiased estimator "
                "needs at least 4 (or pass ignore_invalid_batch=True to skip such batches)."
            )
        k, l = self._gram(x, self.sigma_x), self._gram(y, self.sigma_y)  # noqa: E741  # the paper's names
        kl = k @ l
        estimate = kl.trace() + k.sum() * l.sum() / ((b - 1) * (b - 2)) - 2.0 * kl.sum() / (b - 2)
        self._sum_of_hsic += (estimate / (b * (b - 3))).clamp(min=0.0).to(self._device)
        self._num_batches += 1

    def compute(self) -> float:
        """The mean HSIC estimate over batches."""
        return _mean_per_batch(self._sum_of_hsic, self._num_batches, "HSIC")
