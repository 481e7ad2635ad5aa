"""Regression metrics from sums of moments: R² and Pearson's correlation.

Both keep a few float64 sums (of values, squares and products), all-reduced across processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.regression._checks import column_pair

__all__ = ["PearsonCorrelation", "R2Score"]


def _zero(device: torch.device) -> torch.Tensor:
    return torch.zeros((), dtype=torch.float64, device=device)


class R2Score(Metric):
    """The coefficient of determination, ``1 - SS_res / SS_tot``, for ``y_pred``, ``y`` of shape ``(N,)`` or ``(N, 1)``.

    Example:
        >>> r2 = R2Score()
        >>> r2.update((torch.tensor([1.0, 2.0, 3.5]), torch.tensor([1.0, 2.0, 3.0])))
        >>> r2.compute()
        0.875
    """

    _state_names = ("_num_examples", "_sum_of_errors", "_y_sum", "_y_sq_sum")

    def reset(self) -> None:
        """Forget all samples seen."""
        self._num_examples = 0
        self._sum_of_errors = _zero(self._device)
        self._y_sum = _zero(self._device)
        self._y_sq_sum = _zero(self._device)

    def update(self, output: Any) -> None:
        """Accumulate one batch ``(y_pred, y)``."""
        y_pred, y = column_pair(output, "R2Score")
        y_pred, y = y_pred.to(torch.float64), y.to(torch.float64)
        self._sum_of_errors += (y_pred - y).square().sum().to(self._device)
        self._y_sum += y.sum().to(self._device)
        self._y_sq_sum += y.square().sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """R² over all samples seen."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("R2Score must have at least one example before it can be computed.")
        errors, y_sum, y_sq_sum = reduced(self._sum_of_errors), reduced(self._y_sum), reduced(self._y_sq_sum)
        total = y_sq_sum - y_sum * y_sum / num_examples
        return 1.0 - (errors / total).item()


class PearsonCorrelation(Metric):
    """Pearson's correlation coefficient between ``y_pred`` and ``y``, each of shape ``(N,)`` or ``(N, 1)``.

    Args:
        eps: the smallest denominator ``sqrt(var(y_pred) var(y))``: constant data gives 0, not NaN.
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`.

    Example:
        >>> pearson = PearsonCorrelation()
        >>> pearson.update((torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 7.0])))
        >>> round(pearson.compute(), 4)
        0.9934
    """

    _state_names = (
        "_sum_of_y_preds",
        "_sum_of_ys",
        "_sum_of_y_pred_squares",
        "_sum_of_y_squares",
        "_sum_of_products",
        "_num_examples",
    )

    def __init__(
        self,
        eps: float = 1e-8,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not eps >= 0:
            raise ValueError(f"PearsonCorrelation needs eps >= 0, got {eps!r}.")
        self.eps = float(eps)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def reset(self) -> None:
        """Forget all samples seen."""
        self._sum_of_y_preds = _zero(self._device)
        self._sum_of_ys = _zero(self._device)
        self._sum_of_y_pred_squares = _zero(self._device)
        self._sum_of_y_squares = _zero(self._device)
        self._sum_of_products = _zero(self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Accumulate one batch ``(y_pred, y)``."""
        y_pred, y = column_pair(output, "PearsonCorrelation")
        y_pred, y = y_pred.to(self._device, torch.float64), y.to(self._device, torch.float64)
        self._sum_of_y_preds += y_pred.sum()
        self._sum_of_ys += y.sum()
        self._sum_of_y_pred_squares += y_pred.square().sum()
        self._sum_of_y_squares += y.square().sum()
        self._sum_of_products += (y_pred * y).sum()
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The correlation over all samples seen."""
        n = reduced(self._num_examples)
        if n == 0:
            raise NotComputableError("PearsonCorrelation must have at least one example before it can be computed.")
        sums = torch.stack(
            [
                self._sum_of_y_preds,
                self._sum_of_ys,
                self._sum_of_y_pred_squares,
                self._sum_of_y_squares,
                self._sum_of_products,
            ]
        )
        pred_sum, y_sum, pred_sq_sum, y_sq_sum, products = reduced(sums) / n
        covariance = products - pred_sum * y_sum
        pred_var = (pred_sq_sum - pred_sum * pred_sum).clamp(min=0.0)
        y_var = (y_sq_sum - y_sum * y_sum).clamp(min=0.0)
        return float(covariance / (pred_var * y_var).sqrt().clamp(min=self.eps))
