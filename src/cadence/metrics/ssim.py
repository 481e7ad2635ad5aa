""":class:`SSIM`: the mean structural similarity of images (2-d) or volumes (3-d) with their targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["SSIM"]


def _per_dim(value: Any, ndims: int, name: str, kind: type) -> list[Any]:
    if isinstance(value, kind) and not isinstance(value, bool):
        return [value] * ndims
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != ndims:
            raise ValueError(f"Expected {name} to have length of {ndims}. Got {len(value)}.")
        if all(isinstance(item, int | float) and not isinstance(item, bool) for item in value):
            return list(value)
    plural = "int" if kind is int else "float"
    raise ValueError(f"Argument {name} should be either {plural} or a sequence of {plural} of length {ndims}.")


def _window(size: int, sigma: float, gaussian: bool) -> torch.Tensor:
    """A 1-d window of ``size`` taps summing to 1: Gaussian, or uniform."""
    if not gaussian:
        return torch.full((size,), 1.0 / size, dtype=torch.float64)
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def _band(inputs: int, window: torch.Tensor) -> torch.Tensor:
    """The ``(inputs, outputs)`` matrix that slides ``window`` over ``inputs`` values ('valid' positions only)."""
    size = window.numel()
    outputs = inputs - size + 1
    rows = torch.zeros(outputs, inputs, dtype=window.dtype, device=window.device)
    rows.as_strided((outputs, size), (inputs + 1, 1)).copy_(window.expand(outputs, size))  # row i: window at i
    return rows.T


def _filter_axis(values: torch.Tensor, dim: int, window: torch.Tensor, *, block: int = 64) -> torch.Tensor:
    """``window`` slid along axis ``dim`` of ``values`` ('valid' positions), as matrix products.

    One product with a banded matrix per axis is several times faster on CPU than a grouped (depthwise)
    convolution; long axes are cut into overlapping pieces of ``block`` outputs, so that the band's zeros
    cost little.
    """
    size = window.numel()
    moved = values.movedim(dim, -1)
    length, outer = moved.shape[-1], moved.shape[:-1]
    outputs = length - size + 1
    if outputs <= block:
        filtered = moved.reshape(-1, length) @ _band(length, window)
    else:
        pieces = -(-outputs // block)
        moved = F.pad(moved, (0, pieces * block + size - 1 - length))
        windows = moved.unfold(-1, block + size - 1, block).reshape(-1, block + size - 1)
        filtered = (windows @ _band(block + size - 1, window)).reshape(-1, pieces * block)[:, :outputs]
    return filtered.reshape(*outer, outputs).movedim(-1, dim)


class SSIM(Metric):
    """The structural similarity index (Wang et al., 2004), averaged over images.

    ``y_pred`` and ``y`` have shape ``(B, C, H, W)`` (``ndims=2``) or ``(B, C, D, H, W)`` (``ndims=3``) and
    the same dtype. Local means, variances and covariance are taken over a Gaussian window (or a uniform
    one with ``gaussian=False``) applied to the reflect-padded images; an image's SSIM is the mean of its
    SSIM map over channels and pixels. The window is separable, so it is applied one axis at a time.

    Args:
        data_range: the range of the values (1.0 for [0, 1] images, 255 for 8-bit ones).
        kernel_size: the window's odd size, per spatial axis or one for all.
        sigma: the Gaussian's standard deviation (a float), per spatial axis or one for all.
        k1, k2: the stabilising constants ``C1 = (k1 * data_range)**2`` and ``C2 = (k2 * data_range)**2``.
        gaussian: Gaussian window (default) or uniform window of ``kernel_size`` taps.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums are kept.
        ndims: 2 for images, 3 for volumes.

    Example:
        >>> ssim = SSIM(data_range=1.0)
        >>> images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> ssim.update((images, images))
        >>> round(ssim.compute(), 6)
        1.0
    """

    _state_names = ("_sum_of_ssim", "_num_examples")

    def __init__(
        self,
        data_range: int | float,
        kernel_size: int | Sequence[int] = 11,
        sigma: float | Sequence[float] = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        gaussian: bool = True,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        ndims: int = 2,
    ) -> None:
        if ndims not in (2, 3):
            raise ValueError(f"Expected ndims to be 2 or 3. Got {ndims}.")
        sizes = _per_dim(kernel_size, ndims, "kernel_size", int)
        sigmas = _per_dim(sigma, ndims, "sigma", float)
        if any(not isinstance(size, int) or size % 2 == 0 or size <= 0 for size in sizes):
            raise ValueError(f"Expected kernel_size to have odd positive number. Got {kernel_size}.")
        if any(value <= 0 for value in sigmas):
            raise ValueError(f"Expected sigma to have positive number. Got {sigma}.")
        if not isinstance(data_range, int | float) or data_range <= 0:
            raise ValueError(f"SSIM needs a positive data_range (e.g. 1.0 or 255), got {data_range!r}.")
        self.data_range, self.ndims, self.gaussian = data_range, ndims, gaussian
        self.kernel_size, self.sigma = sizes, sigmas
        self.c1, self.c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
        self._windows = [_window(size, s, gaussian) for size, s in zip(sizes, sigmas, strict=True)]
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"data_range": self.data_range, "kernel_size": self.kernel_size, "ndims": self.ndims}

    # Ignite's names for the reflect padding of each side, half the window: (kernel_size - 1) // 2.
    @property
    def pad_h(self) -> int:
        """The padding along the first window axis, ``(kernel_size[0] - 1) // 2``."""
        return (int(self.kernel_size[0]) - 1) // 2

    @property
    def pad_w(self) -> int:
        """The padding along the second window axis, ``(kernel_size[1] - 1) // 2``."""
        return (int(self.kernel_size[1]) - 1) // 2

    @property
    def pad_d(self) -> int | None:
        """The padding along the third window axis of volumes (``ndims=3``), ``None`` for images."""
        return (int(self.kernel_size[2]) - 1) // 2 if self.ndims == 3 else None

    def reset(self) -> None:
        """Forget all images seen."""
        self._sum_of_ssim = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_pred, y = as_pair(output, "SSIM")
        if y_pred.dtype != y.dtype:
            raise TypeError(
                f"Expected y_pred and y to have the same data type. Got y_pred: {y_pred.dtype} and y: {y.dtype}."
            )
        if y_pred.shape != y.shape:
            raise ValueError(
                f"Expected y_pred and y to have the same shape. Got y_pred: {tuple(y_pred.shape)} "
                f"and y: {tuple(y.shape)}."
            )
        if y_pred.dim() != self.ndims + 2:
            raise ValueError(
                "Expected y_pred and y to have BxCxHxW or BxCxDxHxW shape "
                f"(ndims={self.ndims}). Got y_pred: {tuple(y_pred.shape)} and y: {tuple(y.shape)}."
            )
        too_small = [
            (axis, length)
            for axis, (length, size) in enumerate(zip(y.shape[2:], self.kernel_size, strict=True))
            if length <= (size - 1) // 2
        ]
        if too_small:
            raise ValueError(
                f"SSIM: images of spatial shape {tuple(y.shape[2:])} are too small for kernel_size "
                f"{self.kernel_size}: each side must exceed half the window; use a smaller kernel_size."
            )
        return y_pred.detach(), y.detach()

    def _local_means(self, stack: torch.Tensor) -> torch.Tensor:
        """The windowed mean of every channel of ``stack`` (N, C, *spatial), one axis at a time, 'valid' part only."""
        for axis, window in enumerate(self._windows):
            stack = _filter_axis(stack, 2 + axis, window.to(stack))
        return stack

    def update(self, output: Any) -> None:
        """Add a batch ``(y_pred, y)`` of images."""
        y_pred, y = self._checked(output)
        if y.shape[0] == 0:
            return
        dtype = torch.float64 if y.dtype == torch.float64 else torch.float32
        batch = y.shape[0]
        pads = [amount for size in reversed(self.kernel_size) for amount in ((size - 1) // 2,) * 2]
        pred = F.pad(y_pred.to(dtype), pads, mode="reflect")
        target = F.pad(y.to(dtype), pads, mode="reflect")
        moments = self._local_means(torch.cat([pred, target, pred * pred, target * target, pred * target]))
        mu_pred, mu_target, pred_sq, target_sq, cross = moments.chunk(5)
        mu_pred_sq, mu_target_sq, mu_cross = mu_pred * mu_pred, mu_target * mu_target, mu_pred * mu_target
        numerator = (2 * mu_cross + self.c1) * (2 * (cross - mu_cross) + self.c2)
        denominator = (mu_pred_sq + mu_target_sq + self.c1) * (
            pred_sq - mu_pred_sq + target_sq - mu_target_sq + self.c2
        )
        per_image = (numerator / denominator).reshape(batch, -1).mean(dim=1, dtype=torch.float64)
        total = per_image.sum()
        if torch.isnan(total):
            raise ValueError("SSIM: y_pred or y holds NaN (or infinite) values; SSIM cannot be computed.")
        self._sum_of_ssim += total.to(self._sum_of_ssim.device)
        self._num_examples += batch

    def compute(self) -> float:
        """The mean SSIM over all images seen."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("SSIM must have at least one example before it can be computed.")
        return reduced(self._sum_of_ssim).item() / num_examples
