"""Demographic parity: the rate at which each group is predicted each class, and the largest gap between groups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from cadence.distributed import ReduceOp, get_world_size
from cadence.metrics._inputs import MULTICLASS, MULTILABEL, ClassificationMetric, as_pair, check_binary_values
from cadence.metrics.fairness.base import SubgroupDifference
from cadence.metrics.metric import NotComputableError, identity, reduced

__all__ = ["DemographicParityDifference", "SelectionRate"]


class SelectionRate(ClassificationMetric):
    """The fraction of samples predicted as each class (``y`` is only checked for its shape).

    * binary: ``y_pred`` of 0s and 1s, shape ``(batch_size, ...)``: the rates of 0 and of 1;
    * multiclass: scores ``(batch_size, num_classes, ...)``: the rate of each arg-max class;
    * multilabel (``is_multilabel=True``): ``(batch_size, num_labels, ...)`` of 0s and 1s: the rate of each label.

    Example:
        >>> rate = SelectionRate()
        >>> rate.update((torch.tensor([1, 0, 1, 1]), torch.tensor([0, 0, 0, 0])))
        >>> rate.compute()
        tensor([0.2500, 0.7500])
    """

    _state_names = ("_num_positives", "_num_examples", "_type", "_num_classes")
    _lazy_state_names = frozenset({"_num_positives"})

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self._is_multilabel = bool(is_multilabel)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget all predictions seen."""
        self._num_positives = torch.zeros(0, dtype=torch.float64, device=self._device)
        self._num_examples = 0
        self._reset_kind()

    def update(self, output: Any) -> None:
        """Count the predicted classes of one batch ``(y_pred, y)``."""
        y_pred, y = as_pair(output, "SelectionRate")
        # Only y's shape matters here, so any dtype is fine: check the kind against integer labels.
        kind, classes = self._kind_of(y_pred, torch.zeros(y.shape, dtype=torch.int64))
        if kind == MULTICLASS:
            positives = torch.bincount(y_pred.argmax(dim=1).reshape(-1), minlength=classes)
            total = y_pred.numel() // classes
        elif kind == MULTILABEL:
            check_binary_values(y_pred, "y_pred", "SelectionRate")
            positives = y_pred.movedim(1, -1).reshape(-1, classes).sum(dim=0)
            total = y_pred.numel() // classes
        else:
            check_binary_values(y_pred, "y_pred", "SelectionRate")
            positives = torch.bincount(y_pred.reshape(-1).long(), minlength=2)
            total = y_pred.numel()
        positives = positives.to(self._device, torch.float64)
        if self._num_positives.numel() == 0:
            self._num_positives = positives
        else:
            self._num_positives = self._num_positives + positives
        self._num_examples += total

    def _agreed_positives(self) -> torch.Tensor:
        """The counts, widened to the number of classes of the other processes if this one saw nothing."""
        if get_world_size() == 1:
            return self._num_positives
        width = len(self._num_positives)
        agreed = int(reduced(width, ReduceOp.MAX))
        if width not in (0, agreed):
            raise ValueError(
                f"SelectionRate saw {width} classes on this process and {agreed} on another; every process must "
                "feed data with the same number of classes."
            )
        positives = self._num_positives if width else torch.zeros(agreed, dtype=torch.float64, device=self._device)
        return reduced(positives)

    def compute(self) -> torch.Tensor:
        """The selection rate of each class (binary: of 0 and of 1), in the default float dtype."""
        positives, num_examples = self._agreed_positives(), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("SelectionRate must have at least one example before it can be computed.")
        return (positives / num_examples).to(torch.get_default_dtype())


class DemographicParityDifference(SubgroupDifference):
    """The largest difference between two groups' selection rates (over classes): 0 means parity.

    Args:
        groups: the group identifiers found in ``group_labels``.
        is_multilabel: multilabel data (the rate of each label).
        output_transform: maps the engine's output to ``(y_pred, y, group_labels)``.
        device: where accumulators live.

    Example:
        >>> parity = DemographicParityDifference(groups=[0, 1])
        >>> parity.update((torch.tensor([1, 1, 1, 0]), torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 1, 1])))
        >>> parity.compute()
        0.5
    """

    def __init__(
        self,
        groups: Sequence[Any],
        is_multilabel: bool = False,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
    ) -> None:
        rate = SelectionRate(is_multilabel=is_multilabel, device=device)
        super().__init__(rate, groups, output_transform, device)
