""":class:`MeanAveragePrecision` for classification: the area under each class's precision-recall curve, averaged.

The curve computations (:func:`precision_recall_steps`, :func:`average_precision`) are shared with the
object-detection metric in :mod:`cadence.metrics.vision`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import torch

from cadence.distributed import all_gather
from cadence.distributed import all_gather_tensors_with_shapes as all_gather_tensors_with_shapes
from cadence.metrics._inputs import ClassificationMetric, as_pair
from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import NotComputableError, identity
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.utils import to_onehot as to_onehot

__all__ = ["ClassMean", "MeanAveragePrecision", "average_precision", "checked_thresholds", "precision_recall_steps"]

_BINARY, _MULTICLASS, _MULTILABEL = 0, 1, 2
_KIND_NAMES = {_BINARY: "binary", _MULTICLASS: "multiclass", _MULTILABEL: "multilabel"}


class ClassMean(Enum):
    """How the per-class average precisions are combined (``None`` keeps one per class).

    Example:
        >>> ClassMean("weighted") is ClassMean.WEIGHTED
        True
    """

    MACRO = "macro"
    """The plain mean over classes."""
    MICRO = "micro"
    """One curve of all classes' decisions pooled."""
    WEIGHTED = "weighted"
    """The mean weighted by each class's number of positives."""


def checked_thresholds(thresholds: Sequence[float] | torch.Tensor, name: str) -> torch.Tensor:
    """``thresholds`` as a sorted float64 tensor of values in [0, 1].

    Example:
        >>> checked_thresholds([0.5, 0.1], "rec_thresholds")
        tensor([0.1000, 0.5000], dtype=torch.float64)
    """
    if isinstance(thresholds, Sequence) and not isinstance(thresholds, str):
        thresholds = torch.tensor(list(thresholds), dtype=torch.float64)
    if not isinstance(thresholds, torch.Tensor):
        raise TypeError(f"{name} should be a sequence of floats or a tensor, given {type(thresholds).__name__}.")
    if thresholds.dim() != 1:
        raise ValueError(
            f"{name} should be a one-dimensional tensor or a sequence of floats, "
            f"given a {thresholds.dim()}-dimensional tensor."
        )
    if thresholds.numel() == 0 or bool((thresholds < 0).any()) or bool((thresholds > 1).any()):
        raise ValueError(f"{name} values should be between 0 and 1, given {thresholds.tolist()}")
    return thresholds.double().sort().values


def precision_recall_steps(
    scores: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, num_positives: torch.Tensor, *, ties: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recall and precision after each decision of each row, taking decisions by decreasing score.

    ``scores``, ``positive`` and ``negative`` have shape ``(rows, n)``; ``num_positives`` ``(rows,)``. With
    ``ties=True`` every decision of a group of equal scores gets the values at the group's end (one threshold
    per distinct score, as scikit-learn); with ``ties=False`` decisions of equal scores are taken one by one
    in their order (as COCO). A row without positives has recall 1 (scikit-learn's convention).

    Example:
        >>> positive = torch.tensor([[True, False, True]])
        >>> recall, precision = precision_recall_steps(
        ...     torch.tensor([[0.9, 0.8, 0.3]]), positive, ~positive, torch.tensor([2]), ties=True)
        >>> recall.tolist(), precision.tolist()  # doctest: +ELLIPSIS
        ([[0.5, 0.5, 1.0]], [[1.0, 0.5, 0.666...]])
    """
    order = torch.argsort(scores, dim=-1, descending=True, stable=True)
    true_positives = positive.gather(-1, order).double().cumsum(-1)
    false_positives = negative.gather(-1, order).double().cumsum(-1)
    if ties and scores.shape[-1] > 0:
        sorted_scores = scores.gather(-1, order)
        positions = torch.arange(scores.shape[-1], device=scores.device).expand_as(sorted_scores)
        is_end = torch.ones_like(sorted_scores, dtype=torch.bool)
        is_end[..., :-1] = sorted_scores[..., 1:] != sorted_scores[..., :-1]
        ends = torch.where(is_end, positions, scores.shape[-1]).flip(-1).cummin(-1).values.flip(-1)
        true_positives, false_positives = true_positives.gather(-1, ends), false_positives.gather(-1, ends)
    counts = num_positives.double().unsqueeze(-1)
    recall = torch.where(counts > 0, true_positives / counts.clamp(min=1), torch.ones_like(true_positives))
    decided = true_positives + false_positives
    precision = true_positives / decided.clamp(min=1)
    return recall, precision


def average_precision(
    recall: torch.Tensor, precision: torch.Tensor, rec_thresholds: torch.Tensor | None, *, interpolated: bool
) -> torch.Tensor:
    """The area under each row's precision-recall steps (recall non-decreasing along the last dim).

    Without ``rec_thresholds``: ``sum((r_k - r_{k-1}) * p_k)``. With them, precision is read at the first
    step reaching each threshold (0 if none does) and weighted by the thresholds' increments, or, with
    ``interpolated=True`` (COCO), the best precision at or beyond that step is averaged over the thresholds.

    Example:
        >>> recall = torch.tensor([[0.5, 0.5, 1.0]])
        >>> precision = torch.tensor([[1.0, 0.5, 2 / 3]])
        >>> average_precision(recall, precision, None, interpolated=False)  # 0.5 * 1 + 0.5 * 2/3
        tensor([0.8333])
    """
    if interpolated:
        precision = precision.flip(-1).cummax(-1).values.flip(-1)
    if rec_thresholds is None:
        increments = torch.diff(recall, dim=-1, prepend=torch.zeros_like(recall[..., :1]))
        return (increments * precision).sum(-1)
    thresholds = rec_thresholds.to(recall).expand(*recall.shape[:-1], -1).contiguous()
    steps = torch.searchsorted(recall.contiguous(), thresholds)
    reached = steps < recall.shape[-1]
    if recall.shape[-1] == 0:
        at_thresholds = torch.zeros_like(thresholds)
    else:
        at_thresholds = torch.where(reached, precision.gather(-1, steps.clamp(max=recall.shape[-1] - 1)), 0.0)
    if interpolated:
        return at_thresholds.sum(-1) / rec_thresholds.numel()
    increments = torch.diff(thresholds, dim=-1, prepend=torch.zeros_like(thresholds[..., :1]))
    return (increments * at_thresholds).sum(-1)


class MeanAveragePrecision(Metric):
    """Mean average precision of classification scores: per class, the area under the precision-recall curve
    (scikit-learn's ``average_precision_score``), then averaged over classes as ``class_mean`` says.

    Inputs as :class:`~cadence.metrics.Precision`, except that binary and multilabel ``y_pred`` hold scores:
    binary ``(N, ...)`` scores with 0/1 ``y`` of the same shape; multiclass ``(N, C, ...)`` scores with class
    indices ``(N, ...)``; multilabel (``is_multilabel=True``) ``(N, C, ...)`` scores and 0/1 labels. Extra
    dims count as more samples. All scores are kept until :meth:`compute`, which gathers them from every
    process (each process may hold any number, none included).

    Args:
        rec_thresholds: recall levels at which to read precision (default: every distinct score).
        class_mean: ``"macro"`` (default), ``"micro"``, ``"weighted"`` or ``None`` for one value per class.
        is_multilabel: the data is multilabel.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the scores are kept.

    Example:
        >>> map_ = MeanAveragePrecision()
        >>> map_.update((torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]]), torch.tensor([1, 1, 0])))
        >>> map_.compute()
        tensor(0.6667, dtype=torch.float64)
    """

    _state_names = ("_y_pred", "_y_true", "_type", "_num_classes")
    _lazy_state_names = frozenset(_state_names)

    #: An ``output_transform`` for sequence models, the classification metrics' ``get_sequence_transform``
    #: (Ignite's MeanAveragePrecision has it too).
    get_sequence_transform = staticmethod(ClassificationMetric.get_sequence_transform)

    def __init__(
        self,
        rec_thresholds: Sequence[float] | torch.Tensor | None = None,
        class_mean: str | ClassMean | None = "macro",
        is_multilabel: bool = False,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        valid = [mean.value for mean in ClassMean]
        if class_mean is not None and not isinstance(class_mean, ClassMean) and class_mean not in valid:
            raise ValueError(f"Wrong `class_mean` parameter, given {class_mean!r}; use one of {valid} or None.")
        self.class_mean = None if class_mean is None else ClassMean(class_mean).value
        self.rec_thresholds = None if rec_thresholds is None else checked_thresholds(rec_thresholds, "rec_thresholds")
        self._is_multilabel = is_multilabel
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"is_multilabel": self._is_multilabel, "class_mean": self.class_mean}

    def reset(self) -> None:
        """Forget all scores seen."""
        self._y_pred: list[torch.Tensor] = []
        self._y_true: list[torch.Tensor] = []
        self._type: int | None = None
        self._num_classes: int | None = None

    def _kind(self, y_pred: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
        if y_pred.dim() == y.dim() + 1 and y_pred.shape[:1] + y_pred.shape[2:] == y.shape and not self._is_multilabel:
            return (_BINARY, 1) if y_pred.shape[1] == 1 else (_MULTICLASS, y_pred.shape[1])
        if y_pred.shape == y.shape and self._is_multilabel and y.dim() >= 2:
            return _MULTILABEL, y.shape[1]
        if y_pred.shape == y.shape and not self._is_multilabel:
            return _BINARY, 1
        raise ValueError(
            "MeanAveragePrecision: y must have shape (N, ...) and y_pred (N, ...) (binary) or (N, C, ...) "
            f"(multiclass), or both (N, C, ...) with is_multilabel=True; got y_pred {tuple(y_pred.shape)} "
            f"and y {tuple(y.shape)}."
        )

    def update(self, output: Any) -> None:
        """Add a batch ``(scores, targets)``."""
        y_pred, y = as_pair(output, "MeanAveragePrecision")
        y_pred, y = y_pred.detach(), y.detach()
        if not y_pred.is_floating_point():
            raise TypeError(f"`y_pred` should be a float tensor, given {y_pred.dtype}")
        kind, classes = self._kind(y_pred, y)
        if self._type is not None and (kind, classes) != (self._type, self._num_classes):
            raise ValueError(
                f"MeanAveragePrecision was fed {_KIND_NAMES[self._type]} data with {self._num_classes} classes and "
                f"now gets {_KIND_NAMES[kind]} data with {classes}; use one metric per kind of data (or reset() it)."
            )
        if bool(torch.isnan(y_pred).any()):
            raise ValueError("MeanAveragePrecision: y_pred holds NaN scores, which cannot be ranked.")
        if kind == _MULTICLASS:
            if y.dtype != torch.long:
                warnings.warn("`y` should be of dtype long when entry type is multiclass", RuntimeWarning, stacklevel=2)
            if y.numel() and int(y.max()) + 1 > classes:
                raise ValueError(
                    f"y_pred contains fewer classes than y. Number of classes in prediction is {classes} "
                    f"and an element in y has invalid class = {int(y.max()) + 1}."
                )
            rows = y_pred.movedim(1, -1).reshape(-1, classes)
            targets = y.reshape(-1).long()
        else:
            if not bool(((y == 0) | (y == 1)).all()):
                raise ValueError("For binary cases, y must be comprised of 0's and 1's.")
            rows = (y_pred if kind == _BINARY else y_pred.movedim(1, -1)).reshape(-1, classes)
            targets = (y.movedim(1, -1) if kind == _MULTILABEL else y).reshape(-1, classes).to(torch.uint8)
        self._type, self._num_classes = kind, classes
        self._y_pred.append(rows.to(self._device))
        self._y_true.append(targets.to(self._device))

    def _gathered(self) -> tuple[int, int, torch.Tensor, torch.Tensor]:
        """Every process's kind, classes, scores ``(C, n)`` and positives ``(C, n)``."""
        mine = torch.tensor([-1 if self._type is None else self._type, self._num_classes or 0])
        seen = {tuple(row) for row in all_gather(mine.unsqueeze(0)).tolist() if row[0] >= 0}
        if not seen:
            raise NotComputableError(
                "MeanAveragePrecision: Metric could not be computed without any update method call."
            )
        if len(seen) > 1:
            raise ValueError(f"MeanAveragePrecision: the processes saw different kinds of data or classes: {seen}.")
        kind, classes = seen.pop()
        dtype = torch.float64
        scores = torch.cat([p.to(dtype) for p in self._y_pred]) if self._y_pred else torch.zeros(0, classes)
        if kind == _MULTICLASS:
            labels = torch.cat(self._y_true) if self._y_true else torch.zeros(0, dtype=torch.long)
            positives = to_onehot(all_gather(labels.to(self._device)), classes).to(torch.uint8)
        else:
            flags = torch.cat(self._y_true) if self._y_true else torch.zeros(0, classes, dtype=torch.uint8)
            positives = all_gather(flags.to(self._device))
        scores = all_gather(scores.to(self._device, dtype))
        # one contiguous row per class: sorting and gathering along rows is about twice as fast as along columns
        return kind, classes, scores.T.contiguous(), positives.reshape(-1, classes).T.contiguous()

    def compute(self) -> torch.Tensor | float:
        """The mean average precision (a float for binary data, else a float64 tensor)."""
        kind, _, scores, positives = self._gathered()
        if self.class_mean == ClassMean.MICRO.value:
            scores, positives = scores.reshape(1, -1), positives.reshape(1, -1)
        num_positives = positives.sum(-1)
        # A few classes at a time: the temporaries of the curves then stay in cache (about a third faster).
        chunk = max(1, 65536 // max(scores.shape[-1], 1))
        per_class = torch.cat(
            [
                average_precision(
                    *precision_recall_steps(
                        scores[start : start + chunk],
                        positives[start : start + chunk],
                        1 - positives[start : start + chunk],
                        num_positives[start : start + chunk],
                        ties=True,
                    ),
                    self.rec_thresholds,
                    interpolated=False,
                )
                for start in range(0, scores.shape[0], chunk)
            ]
        )
        if kind == _BINARY:
            return per_class.item()
        if self.class_mean is None:
            return per_class
        if self.class_mean == ClassMean.WEIGHTED.value:
            weights = num_positives.double()
            return (per_class * weights).sum() / weights.sum()
        return per_class.mean()
