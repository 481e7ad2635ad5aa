""":class:`CohenKappa`: agreement between predicted and true class labels beyond chance, optionally weighted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.confusion_matrix import ConfusionMatrix as ConfusionMatrix
from cadence.metrics.epoch_metric import EpochMetric as EpochMetric
from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import identity
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced

__all__ = ["CohenKappa"]

_WEIGHTS = (None, "linear", "quadratic")


def label_confusion_matrix(y_pred: torch.Tensor, y: torch.Tensor, kind: str, num_classes: int | None) -> torch.Tensor:
    """Counts (float64) of (true label, predicted label) pairs of two label vectors ``(N,)``; class ``c`` = label ``c``.

    Example:
        >>> label_confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), "kappa", None)
        tensor([[1., 1.],
                [0., 1.]], dtype=torch.float64)
    """
    if y_pred.dim() > 1 or y.dim() > 1:
        raise ValueError(
            f"{kind}: multilabel-indicator is not supported; give class labels of shape (N,) or (N, 1), "
            f"got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
        )
    labels = torch.cat([y_pred.reshape(-1), y.reshape(-1)])
    if labels.is_floating_point() and not bool((labels == labels.round()).all()):
        raise ValueError(f"{kind} takes class labels (whole numbers), got fractional values such as scores.")
    labels = labels.long()
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{kind} takes class labels >= 0, got {int(labels.min())}.")
    classes = int(labels.max()) + 1 if labels.numel() else 1
    if num_classes is not None:
        if classes > num_classes:
            raise ValueError(
                f"{kind}(num_classes={num_classes}) got the label {classes - 1}; labels must be < num_classes."
            )
        classes = num_classes
    cells = labels[y_pred.numel() :] * classes + labels[: y_pred.numel()]
    return torch.bincount(cells, minlength=classes * classes).reshape(classes, classes).double()


def _kappa(matrix: torch.Tensor, weights: str | None) -> float:
    total = matrix.sum()
    classes = matrix.shape[0]
    expected = matrix.sum(dim=1, keepdim=True) * matrix.sum(dim=0, keepdim=True) / total
    index = torch.arange(classes, device=matrix.device, dtype=torch.float64)
    distance = (index.unsqueeze(0) - index.unsqueeze(1)).abs()
    penalties = {None: (distance > 0).double(), "linear": distance, "quadratic": distance**2}
    penalty = penalties[weights]
    # kappa = 1 - observed disagreement / disagreement expected by chance (0 when chance explains it all)
    chance = float((penalty * expected).sum())
    if chance <= 1e-12 * float(total):
        return 0.0
    return 1.0 - float((penalty * matrix).sum()) / chance


class CohenKappa(EpochMetric):
    """Cohen's kappa of predicted class labels against true ones, as scikit-learn's ``cohen_kappa_score``.

    ``y_pred`` and ``y`` hold class labels ``0, 1, ...`` of shape ``(batch_size,)`` or ``(batch_size, 1)``.
    The labels are kept and gathered from every process (see :class:`EpochMetric`).

    Args:
        output_transform: maps the engine's output to ``(y_pred, y)``.
        weights: ``None`` (unweighted), ``"linear"`` or ``"quadratic"`` (disagreements weigh by the distance
            between the label values, as Ignite; scikit-learn uses the distance between the ranks of the labels
            present, which differs only when a label inside the range never occurs).
        check_compute_fn: compute on the first batch and warn if that fails.
        device: where the labels are kept.
        skip_unrolling: see :class:`~cadence.metrics.metric.Metric`.
        num_classes: the number of classes, if known: labels at or above it are refused.

    Example:
        >>> kappa = CohenKappa()
        >>> kappa.update((torch.tensor([0, 0, 2, 2, 0, 2]), torch.tensor([2, 0, 2, 2, 0, 1])))
        >>> round(kappa.compute(), 4)
        0.4286
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        weights: str | None = None,
        check_compute_fn: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        num_classes: int | None = None,
    ) -> None:
        if not isinstance(weights, str | None) or weights not in _WEIGHTS:
            raise ValueError(f"Kappa Weighting type must be None or linear or quadratic, got {weights!r}.")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)):
            raise ValueError(f"num_classes must be an integer or None, got {num_classes!r}.")
        self.weights = weights
        self.num_classes = num_classes
        super().__init__(
            self._compute_kappa, output_transform, check_compute_fn, device=device, skip_unrolling=skip_unrolling
        )

    def _config(self) -> dict[str, Any]:
        return {"weights": self.weights, "num_classes": self.num_classes}

    def _compute_kappa(self, y_pred: torch.Tensor, y: torch.Tensor) -> float:
        return _kappa(label_confusion_matrix(y_pred, y, "CohenKappa", self.num_classes), self.weights)

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_pred, y = super()._checked(output)
        if self.num_classes is not None:  # a known class count: refuse at once what compute would
            label_confusion_matrix(y_pred, y, "CohenKappa", self.num_classes)
        return y_pred, y

    def _empty_message(self) -> str:
        if self.num_classes is not None:
            return "Confusion matrix must have at least one example before it can be computed (CohenKappa)."
        return super()._empty_message()

    def compute(self) -> float:
        """Cohen's kappa over all labels seen by every process."""
        return self._compute_kappa(*self._gathered())
