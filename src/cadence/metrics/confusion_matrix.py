""":class:`ConfusionMatrix` and the metrics built on it: IoU (Jaccard), Dice, accuracy, precision, recall."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair, check_class_indices
from cadence.metrics.metric import Metric, MetricsLambda, NotComputableError, identity, reduced

__all__ = [
    "ConfusionMatrix",
    "ConfusionMatrixAverage",
    "DiceCoefficient",
    "IoU",
    "JaccardIndex",
    "cmAccuracy",
    "cmPrecision",
    "cmRecall",
    "mIoU",
]


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
            f"Argument average can None or one of 'samples', 'recall', 'precision' (or a ConfusionMatrixAverage "
            f"member), got {value!r}."
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
            raise ValueError(f"Argument num_classes needs to be > 1 (an integer), got {num_classes!r}.")
        self.num_classes = num_classes
        self.average_mode = ConfusionMatrixAverage.parse(average)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    @property
    def average(self) -> str | None:
        """The normalisation as Ignite spells it: ``None``, ``'samples'``, ``'recall'`` or ``'precision'``
        (``average_mode`` is the same as a :class:`ConfusionMatrixAverage`); settable with either."""
        return None if self.average_mode is ConfusionMatrixAverage.NONE else str(self.average_mode.value)

    @average.setter
    def average(self, value: ConfusionMatrixAverage | str | None) -> None:
        self.average_mode = ConfusionMatrixAverage.parse(value)

    def _config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "average": self.average_mode.value}

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
        if y_pred.dim() < 2:
            raise ValueError(
                f"ConfusionMatrix: y_pred must have shape (batch_size, num_classes (currently set to {classes}), ...), "
                f"got {tuple(y_pred.shape)}."
            )
        if y_pred.shape[1] != classes:
            raise ValueError(
                f"ConfusionMatrix: y_pred does not have correct number of classes: {y_pred.shape[1]} vs {classes}."
            )
        if y.dim() + 1 != y_pred.dim():
            raise ValueError(
                f"ConfusionMatrix: y_pred must have shape (batch_size, num_classes (currently set to {classes}), ...) "
                f"and y must have shape of (batch_size, ...), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        if y.shape != y_pred.shape[:1] + y_pred.shape[2:]:
            raise ValueError(
                f"ConfusionMatrix: y and y_pred must have compatible shapes: y (batch_size, ...) is y_pred "
                f"(batch_size, num_classes, ...) without its class dim; got y_pred {tuple(y_pred.shape)} and "
                f"y {tuple(y.shape)}."
            )
        check_class_indices(y, "ConfusionMatrix")
        # cell = true * classes + predicted. A target outside the classes lands below 0 or at or above
        # classes², and is clamped to -1 or classes²: both index the extra cell (-1 counts from the end).
        # No boolean mask, so no host sync.
        cell = y_pred.argmax(dim=1).add_(y.long(), alpha=classes).reshape(-1).clamp_(-1, classes * classes)
        cell = cell.to(self._device)
        if self._ones.shape[0] != cell.shape[0]:
            self._ones = torch.ones(cell.shape[0], dtype=torch.int64, device=self._device)
        self._cells.index_put_((cell,), self._ones, accumulate=True)
        self._num_examples += y_pred.shape[0]

    def compute(self) -> torch.Tensor:
        """The counts (``int64``), or normalised counts (``float64``) when ``average`` is set."""
        matrix, num_examples = reduced(self.confusion_matrix), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(
                "Confusion matrix must have at least one example before it can be computed (ConfusionMatrix)."
            )
        if self.average_mode is ConfusionMatrixAverage.NONE:
            return matrix
        if self.average_mode is ConfusionMatrixAverage.SAMPLES:
            return matrix.double() / num_examples
        return self.normalize(matrix, self.average_mode)

    @staticmethod
    def normalize(matrix: torch.Tensor, average: ConfusionMatrixAverage | str | None) -> torch.Tensor:
        """``matrix`` (float64) with each row (``'recall'``) or column (``'precision'``) divided by its sum.

        Example:
            >>> ConfusionMatrix.normalize(torch.tensor([[3, 1], [0, 2]]), "recall")
            tensor([[0.7500, 0.2500],
                    [0.0000, 1.0000]], dtype=torch.float64)
        """
        if average not in ("recall", "precision", ConfusionMatrixAverage.RECALL, ConfusionMatrixAverage.PRECISION):
            raise ValueError(
                f"Argument average should be one of 'samples', 'recall', 'precision'; normalize() takes 'recall' or "
                f"'precision' (divide by num_examples for 'samples'), got {average!r}."
            )
        kind = ConfusionMatrixAverage.parse(average)
        matrix = matrix.double()
        if kind is ConfusionMatrixAverage.RECALL:
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
    _check_cm(cm)
    if cm.average not in (None, "samples"):
        raise ValueError(
            f"ConfusionMatrix should have average attribute either None or 'samples' for IoU, got {cm.average!r}."
        )
    _check_ignore_index(cm, ignore_index)
    return MetricsLambda(_iou, cm, ignore_index)


def _check_cm(cm: object) -> None:
    if not isinstance(cm, ConfusionMatrix):
        raise TypeError(f"Argument cm should be instance of ConfusionMatrix, but given {type(cm).__name__}.")


def _check_ignore_index(cm: ConfusionMatrix, ignore_index: object) -> None:
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int) or not 0 <= ignore_index < cm.num_classes
    ):
        raise ValueError(
            f"ignore_index should be integer and in the range of [0, {cm.num_classes}), but given {ignore_index}."
        )


def _without(values: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    if ignore_index is None:
        return values
    return torch.cat([values[:ignore_index], values[ignore_index + 1 :]])


def _iou(matrix: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    matrix = matrix.double()
    true_pos = matrix.diag()
    return _without(true_pos / (matrix.sum(dim=0) + matrix.sum(dim=1) - true_pos + 1e-15), ignore_index)


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


def JaccardIndex(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:
    """The Jaccard index of each class, another name of :func:`IoU`.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> jaccard = JaccardIndex(cm, ignore_index=0)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> jaccard.compute()
        tensor([0.5000], dtype=torch.float64)
    """
    return IoU(cm, ignore_index)


def DiceCoefficient(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:
    """The Dice coefficient (F1 score) of each class, from a :class:`ConfusionMatrix`: ``2 TP / (2 TP + FP + FN)``.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> dice = DiceCoefficient(cm)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> dice.compute()
        tensor([0.6667, 0.6667], dtype=torch.float64)
    """
    _check_cm(cm)
    _check_ignore_index(cm, ignore_index)
    return MetricsLambda(_dice, cm, ignore_index)


def _dice(matrix: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    matrix = matrix.double()
    return _without(2 * matrix.diag() / (matrix.sum(dim=0) + matrix.sum(dim=1) + 1e-15), ignore_index)


def cmAccuracy(cm: ConfusionMatrix) -> MetricsLambda:
    """Accuracy from a :class:`ConfusionMatrix`: its trace over its sum (a 0-d float64 tensor).

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> accuracy = cmAccuracy(cm)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> round(float(accuracy.compute()), 4)
        0.6667
    """
    _check_cm(cm)
    return MetricsLambda(_accuracy, cm)


def _accuracy(matrix: torch.Tensor) -> torch.Tensor:
    matrix = matrix.double()
    return matrix.diag().sum() / (matrix.sum() + 1e-15)


def cmPrecision(cm: ConfusionMatrix, average: bool = True) -> MetricsLambda:
    """Precision of each class from a :class:`ConfusionMatrix` (diagonal over column sums), or their mean.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> precision = cmPrecision(cm, average=False)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> precision.compute()
        tensor([0.5000, 1.0000], dtype=torch.float64)
    """
    _check_cm(cm)
    return MetricsLambda(_per_class, cm, 0, bool(average))


def cmRecall(cm: ConfusionMatrix, average: bool = True) -> MetricsLambda:
    """Recall of each class from a :class:`ConfusionMatrix` (diagonal over row sums), or their mean.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> recall = cmRecall(cm)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> recall.compute()
        tensor(0.7500, dtype=torch.float64)
    """
    _check_cm(cm)
    return MetricsLambda(_per_class, cm, 1, bool(average))


def _per_class(matrix: torch.Tensor, dim: int, average: bool) -> torch.Tensor:
    matrix = matrix.double()
    values = matrix.diag() / (matrix.sum(dim=dim) + 1e-15)
    return values.mean() if average else values
