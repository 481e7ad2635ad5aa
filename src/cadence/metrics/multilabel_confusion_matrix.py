""":class:`MultiLabelConfusionMatrix`: one 2x2 confusion matrix per label of multilabel data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["MultiLabelConfusionMatrix"]

_INTEGER_TYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


class MultiLabelConfusionMatrix(Metric):
    """Per label, the counts ``[[TN, FP], [FN, TP]]`` (scikit-learn's ``multilabel_confusion_matrix`` layout).

    ``y_pred`` and ``y`` have shape ``(batch_size, num_classes, ...)`` and hold 0s and 1s in an integer dtype;
    every position beyond the first two dims counts as one more sample (e.g. pixels). Counts are summed
    across processes.

    Args:
        num_classes: the number of labels (> 1).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the counts live.
        normalized: divide each label's matrix by its sum (float64).
        skip_unrolling: see :class:`~cadence.metrics.metric.Metric`.

    Example:
        >>> cm = MultiLabelConfusionMatrix(num_classes=2)
        >>> cm.update((torch.tensor([[1, 0], [1, 1], [0, 1]]), torch.tensor([[1, 0], [0, 1], [0, 0]])))
        >>> cm.compute().tolist()
        [[[1, 1], [0, 1]], [[1, 1], [0, 1]]]
    """

    _state_names = ("confusion_matrix", "_num_examples")

    def __init__(
        self,
        num_classes: int,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        normalized: bool = False,
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Argument num_classes needs to be > 1 (an integer), got {num_classes!r}.")
        self.num_classes = num_classes
        self.normalized = bool(normalized)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "normalized": self.normalized}

    def reset(self) -> None:
        """Zero the counts."""
        self.confusion_matrix = torch.zeros(self.num_classes, 2, 2, dtype=torch.int64, device=self._device)
        self._num_examples = 0

    def _check(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        classes = self.num_classes
        for tensor, name in ((y_pred, "y_pred"), (y, "y")):
            if tensor.dim() < 2:
                raise ValueError(
                    f"MultiLabelConfusionMatrix: {name} must at least have shape (batch_size, num_classes "
                    f"(currently set to {classes}), ...), got {tuple(tensor.shape)}."
                )
        if y_pred.shape[0] != y.shape[0]:
            raise ValueError(
                f"MultiLabelConfusionMatrix: y_pred and y have different batch size: {y_pred.shape[0]} vs {y.shape[0]}."
            )
        for tensor, name in ((y_pred, "y_pred"), (y, "y")):
            if tensor.shape[1] != classes:
                raise ValueError(
                    f"MultiLabelConfusionMatrix: {name} does not have correct number of classes: "
                    f"{tensor.shape[1]} vs {classes}."
                )
        if y.shape != y_pred.shape:
            raise ValueError(
                f"MultiLabelConfusionMatrix: y and y_pred shapes must match, got y_pred {tuple(y_pred.shape)} and "
                f"y {tuple(y.shape)}."
            )
        for tensor, name in ((y_pred, "y_pred"), (y, "y")):
            if tensor.dtype not in _INTEGER_TYPES:
                raise ValueError(
                    f"MultiLabelConfusionMatrix: {name} must be of any type: {_INTEGER_TYPES}, got {tensor.dtype} "
                    "(threshold probabilities first, e.g. (y_pred > 0.5).long())."
                )
        for tensor, name in ((y_pred, "y_pred"), (y, "y")):
            if bool(((tensor != 0) & (tensor != 1)).any()):
                raise ValueError(f"MultiLabelConfusionMatrix: {name} must be a binary tensor (only 0s and 1s).")

    def update(self, output: Any) -> None:
        """Count one batch ``(y_pred, y)``."""
        y_pred, y = as_pair(output, "MultiLabelConfusionMatrix")
        self._check(y_pred, y)
        labels_pred = y_pred.detach().transpose(0, 1).reshape(self.num_classes, -1).long()
        labels_true = y.detach().transpose(0, 1).reshape(self.num_classes, -1).long()
        true_pos = (labels_true * labels_pred).sum(dim=1)
        false_pos = labels_pred.sum(dim=1) - true_pos
        false_neg = labels_true.sum(dim=1) - true_pos
        true_neg = labels_true.shape[1] - true_pos - false_pos - false_neg
        counts = torch.stack([true_neg, false_pos, false_neg, true_pos], dim=1).reshape(-1, 2, 2)
        self.confusion_matrix += counts.to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> torch.Tensor:
        """The ``(num_classes, 2, 2)`` counts (``int64``), or each label's matrix over its sum when ``normalized``."""
        matrix, num_examples = reduced(self.confusion_matrix), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(
                "Confusion matrix must have at least one example before it can be computed (MultiLabelConfusionMatrix)."
            )
        if not self.normalized:
            return matrix
        matrix = matrix.double()
        return matrix / matrix.sum(dim=(1, 2), keepdim=True)
