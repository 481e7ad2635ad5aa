""":class:`ConfusionMatrix` and the metrics built on it: :func:`IoU` and :func:`mIoU`."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair, check_class_indices
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.metrics_lambda import MetricsLambda

__all__ = ["ConfusionMatrix", "ConfusionMatrixAverage", "IoU", "mIoU"]


class ConfusionMatrixAverage(enum.Enum):
    """How :class:`ConfusionMatrix` normalises its counts; Ignite's ``average`` strings map onto it.

    ``NONE`` (``None``): raw counts; ``SAMPLES``: divided by the number of samples, the batch sizes
    ``y_pred.shape[0]`` summed (as Ignite; for segmentation data a sample holds many pixels, so the matrix
    sums to pixels counted per sample, not to 1); ``RECALL``: each row divided by its sum (true class
    totals); ``PRECISION``: each column divided by its sum.

    Example:
        >>> ConfusionMatrixAverage.parse("recall"), ConfusionMatrixAverage.parse(None)
        (<ConfusionMatrixAverage.RECALL: 'recall'>, <ConfusionMatrixAverage.NONE: 'none'>)
    """

    NONE = "none"
    SAMPLES = "samples"
    RECALL = "recall"
    PRECISION = "precision"

    @classmethod
    def parse(cls, value: ConfusionMatrixAverage | str | None) -> ConfusionMatrixAverage:
        """Accept a member, ``None``, or one of ``'samples'``, ``'recall'``, ``'precision'``."""
        if isinstance(value, ConfusionMatrixAverage):
            return value
        if value is None:
            return cls.NONE
        if value in ("samples", "recall", "precision"):
            return cls(value)
        raise ValueError(
            f"Unknown ConfusionMatrix average {value!r}: use None, 'samples', 'recall' or 'precision' "
            "(or a ConfusionMatrixAverage member)."
        )


class ConfusionMatrix(Metric):
    """Counts of (true class, predicted class) pairs: row ``i``, column ``j`` counts class ``i`` predicted as ``j``.

    ``y_pred`` has shape ``(batch_size, num_classes, ...)`` (scores; the arg-max is the prediction) and
    ``y`` shape ``(batch_size, ...)`` with class indices. Targets outside ``[0, num_classes)`` (e.g. an
    "ignore" label such as 255 in segmentation) are not counted.

    Args:
        num_classes: the number of classes (> 1).
        average: ``None`` (counts), ``'samples'`` (counts divided by the number of samples, ``y_pred.shape[0]``
            summed over batches, not by the number of pixels), ``'recall'`` or ``'precision'``
            (see :class:`ConfusionMatrixAverage`).

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> cm.compute()
        tensor([[1, 0],
                [1, 1]])
    """

    _state_names = ("confusion_matrix", "_num_examples")
    _lazy_state_names = frozenset({"confusion_matrix"})  # checked in _check_state

    def __init__(
        self,
        num_classes: int,
        average: ConfusionMatrixAverage | str | None = None,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer > 1, got {num_classes!r}.")
        self.num_classes = num_classes
        self.average = ConfusionMatrixAverage.parse(average)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "average": self.average.value}

    def reset(self) -> None:
        """Zero the counts."""
        # Flat, with one extra cell that collects targets outside the classes: updates need no masking.
        self._cells = torch.zeros(self.num_classes**2 + 1, dtype=torch.int64, device=self._device)
        self._ones = torch.ones(0, dtype=torch.int64, device=self._device)
        self._num_examples = 0

    @property
    def confusion_matrix(self) -> torch.Tensor:
        """The counts so far on this process: row = true class, column = predicted class."""
        return self._cells[:-1].view(self.num_classes, self.num_classes)

    @confusion_matrix.setter
    def confusion_matrix(self, matrix: torch.Tensor) -> None:
        self._cells = torch.cat([matrix.reshape(-1).to(self._cells), self._cells.new_zeros(1)])

    def _check_state(self, state: dict[str, Any]) -> None:
        matrix, classes = state["confusion_matrix"], self.num_classes
        if not isinstance(matrix, torch.Tensor) or tuple(matrix.shape) != (classes, classes):
            shape = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
            raise ValueError(
                f"Cannot load ConfusionMatrix state entry 'confusion_matrix': expected a tensor of shape "
                f"{(classes, classes)}, got {shape}."
            )

    def update(self, output: Any) -> None:
        """Count the (true, predicted) pairs of one batch ``(y_pred, y)``."""
        y_pred, y = as_pair(output, "ConfusionMatrix")
        classes = self.num_classes
        if y_pred.dim() < 2 or y_pred.shape[1] != classes:
            raise ValueError(
                f"ConfusionMatrix(num_classes={classes}) needs y_pred of shape (batch_size, {classes}, ...), "
                f"got {tuple(y_pred.shape)}."
            )
        if y.shape != y_pred.shape[:1] + y_pred.shape[2:]:
            raise ValueError(
                f"ConfusionMatrix needs y of shape (batch_size, ...) matching y_pred (batch_size, num_classes, ...) "
                f"without its class dim, got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        check_class_indices(y, "ConfusionMatrix")
        # cell = true * classes + predicted. A target outside the classes lands below 0 or at or above
        # classes², and is clamped to -1 or classes²: both index the extra cell (-1 counts from the end).
        # No boolean mask, so no host sync.
        cell = y_pred.argmax(dim=1).add_(y, alpha=classes).reshape(-1).clamp_(-1, classes * classes)
        cell = cell.to(self._device)
        if self._ones.shape[0] != cell.shape[0]:
            self._ones = torch.ones(cell.shape[0], dtype=torch.int64, device=self._device)
        self._cells.index_put_((cell,), self._ones, accumulate=True)
        self._num_examples += y_pred.shape[0]

    def compute(self) -> torch.Tensor:
        """The counts (``int64``), or normalised counts (``float64``) when ``average`` is set."""
        matrix, num_examples = reduced(self.confusion_matrix), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("ConfusionMatrix must have at least one example before it can be computed.")
        if self.average is ConfusionMatrixAverage.NONE:
            return matrix
        matrix = matrix.double()
        if self.average is ConfusionMatrixAverage.SAMPLES:
            return matrix / num_examples
        if self.average is ConfusionMatrixAverage.RECALL:
            return matrix / (matrix.sum(dim=1, keepdim=True) + 1e-15)
        return matrix / (matrix.sum(dim=0, keepdim=True) + 1e-15)


def IoU(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:
    """Intersection over union of each class, from a :class:`ConfusionMatrix`: ``TP / (TP + FP + FN)``.

    Args:
        cm: a confusion matrix with ``average=None`` or ``'samples'``.
        ignore_index: a class to leave out of the result.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> iou = IoU(cm)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> iou.compute()
        tensor([0.5000, 0.5000], dtype=torch.float64)
    """
    if not isinstance(cm, ConfusionMatrix):
        raise TypeError(f"IoU needs a ConfusionMatrix, got {type(cm).__name__}.")
    if cm.average not in (ConfusionMatrixAverage.NONE, ConfusionMatrixAverage.SAMPLES):
        raise ValueError(f"IoU needs a ConfusionMatrix with average None or 'samples', got {cm.average.value!r}.")
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int) or not 0 <= ignore_index < cm.num_classes
    ):
        raise ValueError(f"ignore_index must be a class index in [0, {cm.num_classes}), got {ignore_index!r}.")
    return MetricsLambda(_iou, cm, ignore_index)


def _iou(matrix: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    matrix = matrix.double()
    true_pos = matrix.diag()
    iou = true_pos / (matrix.sum(dim=0) + matrix.sum(dim=1) - true_pos + 1e-15)
    if ignore_index is not None:
        iou = torch.cat([iou[:ignore_index], iou[ignore_index + 1 :]])
    return iou


def mIoU(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:
    """The mean of :func:`IoU` over classes (leaving out ``ignore_index``).

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> miou = mIoU(cm)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> miou.compute()
        tensor(0.5000, dtype=torch.float64)
    """
    return IoU(cm, ignore_index).mean()
