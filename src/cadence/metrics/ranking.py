"""Ranking metrics of binary scores: ROC AUC, the ROC and precision-recall curves, and average precision.

The functions take scores ``y_preds`` and 0/1 targets ``y_targets`` of shape ``(N,)`` (or ``(N, T)``, one
column per target, for the AUC and average precision: the mean over columns) and match scikit-learn's
``roc_auc_score``, ``roc_curve``, ``precision_recall_curve`` and ``average_precision_score``, computed
with torch (no scikit-learn needed). NaN scores are refused with a ``ValueError``: they cannot be ranked,
and usually mean that the model diverged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.epoch_metric import EpochMetric
from cadence.metrics.metric import identity

__all__ = [
    "ROC_AUC",
    "AveragePrecision",
    "PrecisionRecallCurve",
    "RocCurve",
    "average_precision_compute_fn",
    "precision_recall_curve_compute_fn",
    "roc_auc_compute_fn",
    "roc_auc_curve_compute_fn",
    "roc_auc_score",
]


def _checked(y_preds: torch.Tensor, y_targets: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores as float64 and targets as bool, after checking shapes, NaN and 0/1 targets."""
    if y_preds.shape != y_targets.shape:
        raise ValueError(
            f"{name} needs y_pred and y of the same shape, (N,) or (N, num_targets), "
            f"got y_pred {tuple(y_preds.shape)} and y {tuple(y_targets.shape)}."
        )
    scores = y_preds.detach().double()
    nan = int(torch.isnan(scores).sum())
    if nan:
        raise ValueError(
            f"{name}: y_pred holds {nan} NaN score(s) out of {scores.numel()}; NaN cannot be ranked. "
            "Check the model's outputs (a diverged model gives NaN) or drop those samples."
        )
    targets = y_targets.detach()
    if targets.dtype != torch.bool:
        if bool(((targets != 0) & (targets != 1)).any()):
            values = sorted(set(targets.flatten().tolist()))
            raise ValueError(f"{name}: y must hold only 0s and 1s (binary targets), got values {values!r:.80}.")
        targets = targets == 1
    return scores, targets


def _curve_counts(scores: torch.Tensor, positive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """False and true positive counts at each distinct score, highest first, and those scores (thresholds)."""
    order = torch.argsort(scores, descending=True, stable=True)
    scores, positive = scores[order], positive[order]
    # The last position of each run of equal scores: predicting positive at that score includes the whole run.
    last = torch.nonzero(scores[1:] != scores[:-1]).squeeze(1)
    last = torch.cat([last, last.new_tensor([scores.numel() - 1])])
    true_pos = positive.double().cumsum(0)[last]
    false_pos = (last + 1).double() - true_pos
    return false_pos, true_pos, scores[last]


def _one_column(y_preds: torch.Tensor, y_targets: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    scores, targets = _checked(y_preds, y_targets, name)
    if scores.dim() != 1:
        raise ValueError(
            f"{name} takes one target per sample, y of shape (N,) or (N, 1); got {tuple(y_targets.shape)} "
            "(multilabel-indicator format is not supported): compute one curve per column."
        )
    if scores.numel() == 0:
        raise ValueError(f"{name} needs at least one sample.")
    return scores, targets


def _columns(y_preds: torch.Tensor, y_targets: torch.Tensor, name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    scores, targets = _checked(y_preds, y_targets, name)
    if scores.dim() == 1:
        return [(scores, targets)]
    if scores.dim() != 2:
        raise ValueError(f"{name} needs y_pred and y of shape (N,) or (N, num_targets), got {tuple(scores.shape)}.")
    return [(scores[:, j], targets[:, j]) for j in range(scores.shape[1])]


def _binary_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    positives = int(positive.sum())
    negatives = positive.numel() - positives
    if positives == 0 or negatives == 0:
        raise ValueError(
            "Only one class present in y_true: ROC AUC is undefined "
            f"({positives} positives, {negatives} negatives); it needs both 0s and 1s."
        )
    false_pos, true_pos, _ = _curve_counts(scores, positive)
    zero = false_pos.new_zeros(1)
    false_pos, true_pos = torch.cat([zero, false_pos]), torch.cat([zero, true_pos])
    # Trapezoids between successive points of the (unnormalised) curve; ties give the diagonal, worth half.
    area = ((false_pos[1:] - false_pos[:-1]) * (true_pos[1:] + true_pos[:-1])).sum() / 2
    return float(area) / (positives * negatives)


def roc_auc_compute_fn(y_preds: torch.Tensor, y_targets: torch.Tensor) -> float:
    """The area under the ROC curve of scores against 0/1 targets; for ``(N, T)`` the mean over the ``T`` columns.

    Raises ``ValueError`` on NaN scores and when a column holds a single class (the AUC is undefined).

    Example:
        >>> roc_auc_compute_fn(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    per_column = [_binary_auc(s, t) for s, t in _columns(y_preds, y_targets, "ROC AUC")]
    if not per_column:
        raise ValueError("ROC AUC needs at least one target column.")
    return sum(per_column) / len(per_column)


def roc_auc_score(y_score: torch.Tensor, y_true: torch.Tensor) -> float:
    """:func:`roc_auc_compute_fn` with scikit-learn's argument order ``(y_score, y_true)`` (kept for cadence users).

    Example:
        >>> roc_auc_score(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    return roc_auc_compute_fn(y_score, y_true)


def roc_auc_curve_compute_fn(
    y_preds: torch.Tensor, y_targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ROC curve ``(fpr, tpr, thresholds)`` (float64) of scores ``(N,)`` against 0/1 targets ``(N,)``.

    As scikit-learn's ``roc_curve``: thresholds decrease from ``inf`` through the distinct scores, and points
    on a straight segment are dropped. Needs both classes in ``y_targets``.

    Example:
        >>> scores, targets = torch.tensor([0.1, 0.4, 0.35, 0.8], dtype=torch.float64), torch.tensor([0, 0, 1, 1])
        >>> fpr, tpr, thresholds = roc_auc_curve_compute_fn(scores, targets)
        >>> fpr.tolist(), tpr.tolist(), thresholds.tolist()
        ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [inf, 0.8, 0.4, 0.35, 0.1])
    """
    scores, positive = _one_column(y_preds, y_targets, "ROC curve")
    false_pos, true_pos, thresholds = _curve_counts(scores, positive)
    if false_pos.numel() > 2:
        # Keep the ends and every point where the curve changes direction.
        bends = ((false_pos[2:] - 2 * false_pos[1:-1] + false_pos[:-2]) != 0) | (
            (true_pos[2:] - 2 * true_pos[1:-1] + true_pos[:-2]) != 0
        )
        keep = torch.cat([bends.new_ones(1), bends, bends.new_ones(1)])
        false_pos, true_pos, thresholds = false_pos[keep], true_pos[keep], thresholds[keep]
    negatives, positives = float(false_pos[-1]), float(true_pos[-1])
    if negatives == 0 or positives == 0:
        raise ValueError(
            f"The ROC curve needs both classes in y ({int(positives)} positives, {int(negatives)} negatives): "
            "one of its rates would divide by zero."
        )
    zero = false_pos.new_zeros(1)
    fpr = torch.cat([zero, false_pos / negatives])
    tpr = torch.cat([zero, true_pos / positives])
    return fpr, tpr, torch.cat([thresholds.new_full((1,), float("inf")), thresholds])


def precision_recall_curve_compute_fn(
    y_preds: torch.Tensor, y_targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The precision-recall curve ``(precision, recall, thresholds)`` (float64) of scores ``(N,)`` against 0/1 targets.

    As scikit-learn's ``precision_recall_curve``: thresholds increase through the distinct scores, and the
    curve ends at precision 1, recall 0 (one more point than thresholds). Without positives in
    ``y_targets`` recall is 1 everywhere (with a warning).

    Example:
        >>> scores, targets = torch.tensor([0.1, 0.4, 0.35, 0.8], dtype=torch.float64), torch.tensor([0, 0, 1, 1])
        >>> p, r, t = precision_recall_curve_compute_fn(scores, targets)
        >>> [round(x, 4) for x in p.tolist()], r.tolist(), t.tolist()
        ([0.5, 0.6667, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0], [0.1, 0.35, 0.4, 0.8])
    """
    scores, positive = _one_column(y_preds, y_targets, "Precision-recall curve")
    false_pos, true_pos, thresholds = _curve_counts(scores, positive)
    precision = true_pos / (true_pos + false_pos)
    positives = float(true_pos[-1])
    if positives == 0:
        warnings.warn("No positive class found in y_true, recall is set to one for all thresholds.", stacklevel=2)
        recall = torch.ones_like(true_pos)
    else:
        recall = true_pos / positives
    one, zero = precision.new_ones(1), recall.new_zeros(1)
    return torch.cat([precision.flip(0), one]), torch.cat([recall.flip(0), zero]), thresholds.flip(0)


def _binary_average_precision(scores: torch.Tensor, positive: torch.Tensor) -> float:
    false_pos, true_pos, _ = _curve_counts(scores, positive)
    positives = float(true_pos[-1])
    if positives == 0:
        warnings.warn("No positive class found in y_true: its average precision is 0.", stacklevel=3)
        return 0.0
    precision = true_pos / (true_pos + false_pos)
    recall_steps = torch.diff(true_pos, prepend=true_pos.new_zeros(1)) / positives
    return max(0.0, float((recall_steps * precision).sum()))


def average_precision_compute_fn(y_preds: torch.Tensor, y_targets: torch.Tensor) -> float:
    """Average precision (area under the step precision-recall curve) of scores against 0/1 targets.

    For ``(N, T)`` the mean over the ``T`` columns (scikit-learn's macro average); a column without
    positives counts 0, with a warning.

    Example:
        >>> round(average_precision_compute_fn(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])), 4)
        0.8333
    """
    per_column = [_binary_average_precision(s, t) for s, t in _columns(y_preds, y_targets, "Average precision")]
    if not per_column:
        raise ValueError("Average precision needs at least one target column.")
    return sum(per_column) / len(per_column)


class _RankingMetric(EpochMetric):
    """An :class:`EpochMetric` with a fixed compute function and ``check_compute_fn`` off by default."""

    _compute: Callable[[torch.Tensor, torch.Tensor], Any]

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(
            type(self)._compute,
            output_transform,
            check_compute_fn,
            device=device,
            skip_unrolling=skip_unrolling,
        )

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Refuse shape mismatches at once; NaN scores and targets other than 0/1 are refused by compute,
        over all the data in one pass (a per-batch check would cost a host sync per update)."""
        y_pred, y = super()._checked(output)
        if y_pred.shape != y.shape:
            raise ValueError(
                f"{type(self).__name__} needs y_pred and y of the same shape, (batch_size,) or "
                f"(batch_size, num_targets), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        return y_pred, y


class ROC_AUC(_RankingMetric):
    """Area under the ROC curve of all scores seen, for binary targets ``(N,)``/``(N, 1)`` or several
    targets ``(N, T)`` (the mean of each column's AUC, as scikit-learn's macro average).

    ``y_pred`` holds scores (probabilities or logits) of the same shape as ``y`` (0s and 1s). Batches are kept
    and gathered from every process at :meth:`compute` (see :class:`EpochMetric`). NaN scores or a single
    class in ``y`` raise ``ValueError``.

    Args:
        output_transform: maps the engine's output to ``(y_pred, y)``.
        check_compute_fn: compute on the first batch and warn if that fails (e.g. only one class seen).
        device: where the batches are kept.
        skip_unrolling: see :class:`~cadence.metrics.metric.Metric`.

    Example:
        >>> auc = ROC_AUC()
        >>> auc.update((torch.tensor([0.1, 0.4]), torch.tensor([0, 0])))
        >>> auc.update((torch.tensor([0.35, 0.8]), torch.tensor([1, 1])))
        >>> auc.compute()
        0.75
    """

    _compute = staticmethod(roc_auc_compute_fn)

    def compute(self) -> float:
        """The ROC AUC over all scores seen by every process."""
        return roc_auc_compute_fn(*self._gathered())


class RocCurve(_RankingMetric):
    """The ROC curve ``(fpr, tpr, thresholds)`` of all scores seen, for binary targets ``(N,)`` or ``(N, 1)``.

    Float64 tensors on the metric's device, as :func:`roc_auc_curve_compute_fn`.

    Example:
        >>> curve = RocCurve()
        >>> curve.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
        >>> fpr, tpr, thresholds = curve.compute()
        >>> tpr.tolist()
        [0.0, 0.5, 0.5, 1.0, 1.0]
    """

    _compute = staticmethod(roc_auc_curve_compute_fn)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The ROC curve over all scores seen by every process."""
        return _on(roc_auc_curve_compute_fn(*self._gathered()), self._device)


class PrecisionRecallCurve(_RankingMetric):
    """The precision-recall curve ``(precision, recall, thresholds)`` of all scores seen, for binary targets.

    Float64 tensors on the metric's device, as :func:`precision_recall_curve_compute_fn`.

    Example:
        >>> curve = PrecisionRecallCurve()
        >>> curve.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
        >>> precision, recall, thresholds = curve.compute()
        >>> recall.tolist()
        [1.0, 1.0, 0.5, 0.5, 0.0]
    """

    _compute = staticmethod(precision_recall_curve_compute_fn)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The precision-recall curve over all scores seen by every process."""
        return _on(precision_recall_curve_compute_fn(*self._gathered()), self._device)


class AveragePrecision(_RankingMetric):
    """Average precision of all scores seen, for binary targets ``(N,)`` or several targets ``(N, T)``
    (the mean over columns), as :func:`average_precision_compute_fn`.

    Example:
        >>> ap = AveragePrecision()
        >>> ap.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
        >>> round(ap.compute(), 4)
        0.8333
    """

    _compute = staticmethod(average_precision_compute_fn)

    def compute(self) -> float:
        """The average precision over all scores seen by every process."""
        return average_precision_compute_fn(*self._gathered())


def _on(curve: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    first, second, third = (part.to(device) for part in curve)
    return first, second, third
