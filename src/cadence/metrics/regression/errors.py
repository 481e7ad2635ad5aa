"""Regression errors that are sums over samples: mean errors, distances and the maximum absolute error.

Each metric adds up a per-element error in float64; a mean divides by the number of samples (a sample's
errors are summed over its elements, as Ignite does), a distance is the plain sum. Across processes the
sums are all-reduced, so the value is exact however the samples are shared.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from cadence.distributed import ReduceOp
from cadence.metrics.metric import Metric, NotComputableError, reduced
from cadence.metrics.regression._checks import column_pair, same_shape_pair

__all__ = [
    "CanberraMetric",
    "FractionalAbsoluteError",
    "FractionalBias",
    "GeometricMeanAbsoluteError",
    "ManhattanDistance",
    "MaximumAbsoluteError",
    "MeanAbsoluteError",
    "MeanAbsoluteRelativeError",
    "MeanError",
    "MeanNormalizedBias",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "WaveHedgesDistance",
]


class _ErrorSum(Metric):
    """The sum of a per-element error over samples; ``compute`` gives the mean per sample unless ``_is_total``."""

    _state_names = ("_sum_of_errors", "_num_examples")
    _any_shape: ClassVar[bool] = False  # MAE/MSE take any shape; Ignite's newer metrics take (N,) or (N, 1)
    _is_total: ClassVar[bool] = False
    _samples_word: ClassVar[str] = "example"

    def reset(self) -> None:
        """Forget all errors seen."""
        self._sum_of_errors = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_targets(self, y: torch.Tensor) -> None:
        """Refuse targets the error cannot take (nothing to check by default)."""

    def update(self, output: Any) -> None:
        """Accumulate the errors of one batch ``(y_pred, y)``."""
        kind = type(self).__name__
        y_pred, y = same_shape_pair(output, kind) if self._any_shape else column_pair(output, kind)
        self._check_targets(y)
        errors = self._errors(y_pred.to(torch.float64), y.to(torch.float64))
        self._sum_of_errors += errors.sum().to(self._sum_of_errors)
        self._num_examples += y.shape[0] if y.dim() else 1

    def _mean_error(self) -> float:
        total, num_examples = reduced(self._sum_of_errors), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(
                f"{type(self).__name__} must have at least one {self._samples_word} before it can be computed."
            )
        return total.item() / num_examples

    def compute(self) -> float:
        """The mean error per sample (or, for a distance, the sum over all samples)."""
        if self._is_total:
            return float(reduced(self._sum_of_errors).item())
        return self._mean_error()


class MeanAbsoluteError(_ErrorSum):
    """The mean absolute error ``sum |y_pred - y| / N``; a sample's errors are summed over its elements (as Ignite).

    ``y_pred`` and ``y`` may have any shape ``(N, ...)``, the same for both.

    Example:
        >>> mae = MeanAbsoluteError()
        >>> mae.update((torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0])))
        >>> mae.compute()
        1.0
    """

    _any_shape = True

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y_pred - y).abs()


class MeanSquaredError(_ErrorSum):
    """The mean squared error ``sum (y_pred - y)² / N``; a sample's errors are summed over its elements (as Ignite).

    Example:
        >>> mse = MeanSquaredError()
        >>> mse.update((torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0])))
        >>> round(mse.compute(), 4)
        1.6667
    """

    _any_shape = True

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y_pred - y).square()


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


class MeanError(_ErrorSum):
    """The mean error (bias) ``sum (y - y_pred) / N``, for ``y_pred``, ``y`` of shape ``(N,)`` or ``(N, 1)``.

    Example:
        >>> me = MeanError()
        >>> me.update((torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])))
        >>> me.compute()
        1.5
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y - y_pred


class ManhattanDistance(_ErrorSum):
    """The Manhattan (L1) distance ``sum |y - y_pred|`` over all samples (a sum, not a mean).

    Example:
        >>> distance = ManhattanDistance()
        >>> distance.update((torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])))
        >>> distance.compute()
        3.0
    """

    _is_total = True

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs()


class CanberraMetric(_ErrorSum):
    """The Canberra distance ``sum |y - y_pred| / (|y_pred| + |y|)`` over all samples (0 where both are 0).

    Example:
        >>> canberra = CanberraMetric()
        >>> canberra.update((torch.tensor([1.0, 0.0]), torch.tensor([3.0, 0.0])))
        >>> round(canberra.compute(), 4)
        0.5
    """

    _is_total = True

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs() / (y_pred.abs() + y.abs() + 1e-15)


class WaveHedgesDistance(_ErrorSum):
    """The Wave Hedges distance ``sum |y - y_pred| / max(y_pred, y)`` over all samples.

    Example:
        >>> distance = WaveHedgesDistance()
        >>> distance.update((torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0])))
        >>> distance.compute()
        0.5
    """

    _is_total = True

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs() / (torch.maximum(y_pred, y) + 1e-30)


class FractionalAbsoluteError(_ErrorSum):
    """The mean fractional absolute error ``2 |y - y_pred| / (|y_pred| + |y|)``.

    Example:
        >>> fae = FractionalAbsoluteError()
        >>> fae.update((torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0])))
        >>> fae.compute()
        0.5
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 * (y - y_pred).abs() / (y_pred.abs() + y.abs())


class FractionalBias(_ErrorSum):
    """The mean fractional bias ``2 (y - y_pred) / (y_pred + y)``.

    Example:
        >>> bias = FractionalBias()
        >>> bias.update((torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0])))
        >>> bias.compute()
        0.5
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 * (y - y_pred) / (y_pred + y + 1e-30)


class GeometricMeanAbsoluteError(_ErrorSum):
    """The geometric mean of the absolute errors, ``exp(mean(log |y - y_pred|))``.

    Example:
        >>> gmae = GeometricMeanAbsoluteError()
        >>> gmae.update((torch.tensor([0.0, 0.0]), torch.tensor([1.0, 4.0])))
        >>> gmae.compute()
        2.0
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs().log()

    def compute(self) -> float:
        """The geometric mean absolute error."""
        return math.exp(self._mean_error())


class _RelativeToTarget(_ErrorSum):
    """An error divided by ``y``: a target of 0 is refused (as Ignite does, with NotComputableError)."""

    def _check_targets(self, y: torch.Tensor) -> None:
        if bool((y == 0).any()):
            raise NotComputableError(
                f"{type(self).__name__}: The ground truth has 0. This error divides by y, so every target must be "
                "non-zero."
            )


class MeanAbsoluteRelativeError(_RelativeToTarget):
    """The mean absolute relative error ``mean(|y - y_pred| / |y|)``; ``y`` must not hold 0.

    Example:
        >>> mare = MeanAbsoluteRelativeError()
        >>> mare.update((torch.tensor([1.0, 3.0]), torch.tensor([2.0, 4.0])))
        >>> mare.compute()
        0.375
    """

    _samples_word = "sample"

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs() / y.abs()


class MeanNormalizedBias(_RelativeToTarget):
    """The mean normalized bias ``mean((y - y_pred) / y)``; ``y`` must not hold 0.

    Example:
        >>> bias = MeanNormalizedBias()
        >>> bias.update((torch.tensor([1.0, 3.0]), torch.tensor([2.0, 4.0])))
        >>> bias.compute()
        0.375
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred) / y


class MaximumAbsoluteError(Metric):
    """The largest absolute error ``max |y - y_pred|`` over all samples.

    Example:
        >>> max_error = MaximumAbsoluteError()
        >>> max_error.update((torch.tensor([1.0, 3.0]), torch.tensor([2.0, 7.0])))
        >>> max_error.compute()
        4.0
    """

    _state_names = ("_max_of_absolute_errors", "_num_examples")

    def reset(self) -> None:
        """Forget all errors seen."""
        self._max_of_absolute_errors = torch.full((), -math.inf, dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Keep the largest absolute error of one batch ``(y_pred, y)``."""
        y_pred, y = column_pair(output, "MaximumAbsoluteError")
        if y.numel():
            largest = (y.to(torch.float64) - y_pred.to(torch.float64)).abs().max().to(self._max_of_absolute_errors)
            self._max_of_absolute_errors = torch.maximum(self._max_of_absolute_errors, largest)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The maximum absolute error."""
        if reduced(self._num_examples) == 0:
            raise NotComputableError("MaximumAbsoluteError must have at least one example before it can be computed.")
        return float(reduced(self._max_of_absolute_errors, ReduceOp.MAX).item())
