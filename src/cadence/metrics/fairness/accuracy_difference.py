"""The largest accuracy gap between groups of samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from cadence.metrics.classification import Accuracy
from cadence.metrics.fairness.base import SubgroupDifference
from cadence.metrics.metric import identity

__all__ = ["SubgroupAccuracyDifference"]


class SubgroupAccuracyDifference(SubgroupDifference):
    """The largest difference between two groups' accuracies (binary, multiclass or multilabel data).

    Args:
        groups: the group identifiers found in ``group_labels``.
        is_multilabel: multilabel data (a sample is correct when all its labels are).
        output_transform: maps the engine's output to ``(y_pred, y, group_labels)``.
        device: where accumulators live.

    Example:
        >>> gap = SubgroupAccuracyDifference(groups=[0, 1])
        >>> scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
        >>> gap.update((scores, torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1])))
        >>> gap.compute()
        1.0
    """

    def __init__(
        self,
        groups: Sequence[Any],
        is_multilabel: bool = False,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(Accuracy(is_multilabel=is_multilabel, device=device), groups, output_transform, device)
