""":class:`MatthewsCorrCoef`: the Matthews correlation coefficient of class predictions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.cohen_kappa import label_confusion_matrix
from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.metric import identity

__all__ = ["MatthewsCorrCoef", "matthews_corrcoef_compute_fn"]


def matthews_corrcoef_compute_fn(y_preds: torch.Tensor, y_targets: torch.Tensor) -> float:
    """The Matthews correlation coefficient (multiclass form) of predictions against targets, as scikit-learn's.

    ``y_preds`` holds labels ``(N,)`` or scores ``(N, C)`` (the arg-max is the prediction); ``y_targets`` holds
    labels ``(N,)`` or one-hot rows ``(N, C)``. It is 0 when either side predicts a single class.

    Example:
        >>> round(matthews_corrcoef_compute_fn(torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 0, 1])), 4)
        -0.3333
    """
    if y_preds.dim() == 1 and y_targets.dim() == 2:
        raise ValueError(
            "Incoherent types between input y_pred and stored predictions: y_pred is 1D while y_target is 2D; "
            "give y_pred scores (N, C) or y labels (N,)."
        )
    predicted = y_preds.argmax(dim=1) if y_preds.dim() == 2 else y_preds
    truth = y_targets.argmax(dim=1) if y_targets.dim() == 2 else y_targets
    matrix = label_confusion_matrix(predicted, truth, "MatthewsCorrCoef", None)
    total = float(matrix.sum())
    true_sums, predicted_sums = matrix.sum(dim=1), matrix.sum(dim=0)
    covariance = float(matrix.trace()) * total - float(true_sums @ predicted_sums)
    spread_pred = total * total - float(predicted_sums @ predicted_sums)
    spread_true = total * total - float(true_sums @ true_sums)
    if spread_pred * spread_true == 0:
        return 0.0
    return covariance / math.sqrt(spread_true * spread_pred)


class MatthewsCorrCoef(EpochMetric):
    """Matthews correlation coefficient of all predictions seen, as :func:`matthews_corrcoef_compute_fn`.

    Labels or scores are kept and gathered from every process (see :class:`EpochMetric`).

    Example:
        >>> mcc = MatthewsCorrCoef()
        >>> mcc.update((torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 0, 1])))
        >>> round(mcc.compute(), 4)
        -0.3333
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(
            matthews_corrcoef_compute_fn,
            output_transform,
            check_compute_fn,
            device=device,
            skip_unrolling=skip_unrolling,
        )

    def compute(self) -> float:
        """The Matthews correlation coefficient over everything seen by every process."""
        return matthews_corrcoef_compute_fn(*self._gathered())
