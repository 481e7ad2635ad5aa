"""Regression errors that need every sample at once: medians and the geometric mean relative absolute error.

The samples of all processes are gathered exactly (no padding, no duplicates) before the error is computed.
A median of an even number of errors is the mean of the two middle ones (as NumPy's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.epoch_metric import EpochMetric
from cadence.metrics.metric import identity
from cadence.metrics.regression._checks import column_pair

__all__ = [
    "GeometricMeanRelativeAbsoluteError",
    "MedianAbsoluteError",
    "MedianAbsolutePercentageError",
    "MedianRelativeAbsoluteError",
    "median",
    "median_absolute_error_compute_fn",
    "median_absolute_percentage_error_compute_fn",
    "median_relative_absolute_error_compute_fn",
]


def median(values: torch.Tensor) -> float:
    """The median of all elements of ``values``; for an even count, the mean of the two middle ones; NaN if any is.

    Example:
        >>> median(torch.tensor([4.0, 1.0, 3.0, 2.0]))
        2.5
    """
    ordered = values.reshape(-1).to(torch.float64).sort().values
    count = ordered.numel()
    if count == 0:
        raise ValueError("The median of no values is undefined; give at least one value.")
    if bool(ordered[-1].isnan()):  # NaN sorts last: an undefined error makes the median undefined
        return math.nan
    middle = count // 2
    if count % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def _check_finite(values: torch.Tensor, kind: str) -> None:
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{kind} got NaN or infinite predictions or targets; it needs finite values to rank them.")


def median_absolute_error_compute_fn(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """The median of ``|y - y_pred|``.

    Example:
        >>> median_absolute_error_compute_fn(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 4.0, 1.0]))
        2.0
    """
    return median((y.reshape(y_pred.shape) - y_pred).abs())


def median_absolute_percentage_error_compute_fn(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """100 times the median of ``|y - y_pred| / |y|``.

    Example:
        >>> median_absolute_percentage_error_compute_fn(torch.tensor([1.0, 3.0, 6.0]), torch.tensor([2.0, 4.0, 4.0]))
        50.0
    """
    y = y.reshape(y_pred.shape)
    return 100.0 * median((y - y_pred).abs() / y.abs())


def median_relative_absolute_error_compute_fn(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """The median of ``|y - y_pred| / |y - mean(y)|``.

    Example:
        >>> median_relative_absolute_error_compute_fn(torch.tensor([1.0, 2.0, 2.0]), torch.tensor([0.0, 1.0, 5.0]))
        1.0
    """
    y = y.reshape(y_pred.shape)
    return median((y - y_pred).abs() / (y - y.mean()).abs())


def _as_rows(values: torch.Tensor) -> torch.Tensor:
    return values.unsqueeze(1) if values.dim() == 1 else values


class _GatheredErrors(EpochMetric):
    """Keeps every ``(y_pred, y)`` (shape ``(N,)`` or ``(N, k)``) and applies ``compute_fn`` to all of them."""

    #: the error of the given samples, this class's ``compute_fn``.
    _error: Callable[[torch.Tensor, torch.Tensor], float]

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        # No first-batch trial (Ignite's check_compute_fn): a median cannot fail on a batch that passed _checked.
        super().__init__(
            type(self)._error, output_transform, check_compute_fn=False, device=device, skip_unrolling=skip_unrolling
        )

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_pred, y = as_pair(output, type(self).__name__)
        if y_pred.dim() not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}: Predictions should be of shape (batch_size, n_targets) or (batch_size, ), "
                f"got {tuple(y_pred.shape)}."
            )
        if y.dim() not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}: Targets should be of shape (batch_size, n_targets) or (batch_size, ), "
                f"got {tuple(y.shape)}."
            )
        y_pred, y = _as_rows(y_pred), _as_rows(y)
        if y_pred.shape != y.shape:
            raise ValueError(
                f"{type(self).__name__}: Input data shapes should be the same, but given {tuple(y_pred.shape)} "
                f"and {tuple(y.shape)}."
            )
        return y_pred, y

    def compute(self) -> float:
        """The error over all samples of all processes."""
        y_pred, y = self._gathered(torch.float64, torch.float64)
        _check_finite(torch.cat([y_pred, y]), type(self).__name__)
        return type(self)._error(y_pred, y)


class MedianAbsoluteError(_GatheredErrors):
    """The median of the absolute errors ``|y - y_pred|`` over all samples (kept in memory until computed).

    Example:
        >>> mdae = MedianAbsoluteError()
        >>> mdae.update((torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 4.0, 1.0])))
        >>> mdae.compute()
        2.0
    """

    _error = staticmethod(median_absolute_error_compute_fn)


class MedianAbsolutePercentageError(_GatheredErrors):
    """100 times the median of ``|y - y_pred| / |y|`` over all samples (kept in memory until computed).

    Example:
        >>> mdape = MedianAbsolutePercentageError()
        >>> mdape.update((torch.tensor([1.0, 3.0, 6.0]), torch.tensor([2.0, 4.0, 4.0])))
        >>> mdape.compute()
        50.0
    """

    _error = staticmethod(median_absolute_percentage_error_compute_fn)


class MedianRelativeAbsoluteError(_GatheredErrors):
    """The median of ``|y - y_pred| / |y - mean(y)|`` over all samples (kept in memory until computed).

    Example:
        >>> mdrae = MedianRelativeAbsoluteError()
        >>> mdrae.update((torch.tensor([1.0, 2.0, 2.0]), torch.tensor([0.0, 1.0, 5.0])))
        >>> mdrae.compute()
        1.0
    """

    _error = staticmethod(median_relative_absolute_error_compute_fn)


def _geometric_mean_relative_absolute_error(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    relative = (y - y_pred).abs() / (y - y.mean()).abs()
    return float(relative.log().mean().exp())


class GeometricMeanRelativeAbsoluteError(_GatheredErrors):
    """``exp(mean(log(|y - y_pred| / |y - mean(y)|)))`` over all samples, for ``(N,)`` or ``(N, 1)`` data.

    The mean of ``y`` is over all samples, so they are kept in memory until computed.

    Example:
        >>> gmrae = GeometricMeanRelativeAbsoluteError()
        >>> gmrae.update((torch.tensor([1.0, 3.0, 4.0]), torch.tensor([0.0, 2.0, 5.0])))
        >>> round(gmrae.compute(), 4)
        0.7841
    """

    _error = staticmethod(_geometric_mean_relative_absolute_error)

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_pred, y = column_pair(output, "GeometricMeanRelativeAbsoluteError")
        return y_pred.reshape(-1, 1), y.reshape(-1, 1)
