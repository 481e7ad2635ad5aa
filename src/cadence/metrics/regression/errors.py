"""Regression metrics: mean absolute and squared errors, root mean squared error and R²."""

from __future__ import annotations

import math
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, reduced

__all__ = ["MeanAbsoluteError", "MeanSquaredError", "R2Score", "RootMeanSquaredError"]


def _checked_pair(output: Any, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred, y = as_pair(output, kind)
    y_pred, y = y_pred.detach(), y.detach()
    if y_pred.shape != y.shape:
        raise ValueError(
            f"{kind} needs y_pred and y of the same shape, got {tuple(y_pred.shape)} and {tuple(y.shape)}."
        )
    return y_pred, y


class _SumOfErrors(Metric):
    """The sum of a per-element error over samples, divided by the number of samples."""

    _state_names = ("_sum_of_errors", "_num_examples")

    def reset(self) -> None:
        """Forget all errors seen."""
        self._sum_of_errors = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def _errors(self, difference: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def update(self, output: Any) -> None:
        """Accumulate the errors of one batch ``(y_pred, y)`` (tensors of the same shape)."""
        y_pred, y = _checked_pair(output, type(self).__name__)
        self._sum_of_errors += self._errors(y_pred - y).sum().to(self._sum_of_errors)
        self._num_examples += y.shape[0] if y.dim() else 1

    def _mean_error(self) -> float:
        total, num_examples = reduced(self._sum_of_errors), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        return total.item() / num_examples


class MeanAbsoluteError(_SumOfErrors):
    """The mean absolute error; a sample's error is summed over its elements (as Ignite does).

    Example:
        >>> mae = MeanAbsoluteError()
        >>> mae.update((torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0])))
        >>> mae.compute()
        1.0
    """

    def _errors(self, difference: torch.Tensor) -> torch.Tensor:
        return difference.abs()

    def compute(self) -> float:
        """The mean absolute error per sample."""
        return self._mean_error()


class MeanSquaredError(_SumOfErrors):
    """The mean squared error; a sample's error is summed over its elements (as Ignite does).

    Example:
        >>> mse = MeanSquaredError()
        >>> mse.update((torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0])))
        >>> round(mse.compute(), 4)
        1.6667
    """

    def _errors(self, difference: torch.Tensor) -> torch.Tensor:
        return difference.square()

    def compute(self) -> float:
        """The mean squared error per sample."""
        return self._mean_error()


class RootMeanSquaredError(MeanSquaredError):
    """The square root of :class:`MeanSquaredError`.

    Example:
        >>> rmse = RootMeanSquaredError()
        >>> rmse.update((torch.tensor([0.0, 0.0]), torch.tensor([3.0, -3.0])))
        >>> rmse.compute()
        3.0
    """

    def compute(self) -> float:
        """The root mean squared error."""
        return math.sqrt(self._mean_error())


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
        self._sum_of_errors = torch.zeros((), dtype=torch.float64, device=self._device)
        self._y_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._y_sq_sum = torch.zeros((), dtype=torch.float64, device=self._device)

    def update(self, output: Any) -> None:
        """Accumulate one batch ``(y_pred, y)``."""
        y_pred, y = _checked_pair(output, "R2Score")
        if y.dim() not in (1, 2) or (y.dim() == 2 and y.shape[1] != 1):
            raise ValueError(f"R2Score needs y_pred and y of shape (N,) or (N, 1), got {tuple(y.shape)}.")
        y = y.double()
        self._sum_of_errors += (y_pred.double() - y).square().sum().to(self._device)
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
