""":class:`PSNR`: the mean peak signal-to-noise ratio of images with their targets, in decibels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["PSNR"]


class PSNR(Metric):
    """The peak signal-to-noise ratio ``10 * log10(data_range**2 / MSE)`` of each sample, averaged over samples.

    ``y_pred`` and ``y`` have the same shape ``(B, ...)`` and dtype; a sample's MSE is taken over all its
    values (in float64). A ``1e-10`` added to the MSE keeps identical images finite (100 dB for range 1).

    Args:
        data_range: the range of the values (1.0 for [0, 1] images, 255 for 8-bit ones).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums are kept.

    Example:
        >>> psnr = PSNR(data_range=1.0)
        >>> psnr.update((torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.6)))
        >>> round(psnr.compute(), 4)
        20.0
    """

    _state_names = ("_sum_of_batchwise_psnr", "_num_examples")

    def __init__(
        self,
        data_range: int | float,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(data_range, int | float | torch.Tensor) or data_range <= 0:
            raise ValueError(f"PSNR needs a positive data_range (e.g. 1.0 or 255), got {data_range!r}.")
        self.data_range = data_range
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"data_range": float(self.data_range)}

    def reset(self) -> None:
        """Forget all samples seen."""
        self._sum_of_batchwise_psnr = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add a batch ``(y_pred, y)``."""
        y_pred, y = as_pair(output, "PSNR")
        if y_pred.dtype != y.dtype:
            raise TypeError(
                f"Expected y_pred and y to have the same data type. Got y_pred: {y_pred.dtype} and y: {y.dtype}."
            )
        if y_pred.shape != y.shape:
            raise ValueError(
                f"Expected y_pred and y to have the same shape. Got y_pred: {tuple(y_pred.shape)} "
                f"and y: {tuple(y.shape)}."
            )
        if y.dim() == 0 or y.shape[0] == 0:
            return
        difference = y_pred.detach().double() - y.detach().double()
        mse = difference.square().reshape(y.shape[0], -1).mean(dim=1)
        total = (10.0 * torch.log10(float(self.data_range) ** 2 / (mse + 1e-10))).sum()
        if torch.isnan(total):
            raise ValueError("PSNR: y_pred or y holds NaN values; PSNR cannot be computed.")
        self._sum_of_batchwise_psnr += total.to(self._sum_of_batchwise_psnr.device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The mean PSNR over all samples seen."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("PSNR must have at least one example before it can be computed.")
        return reduced(self._sum_of_batchwise_psnr).item() / num_examples
