""":class:`ROC_AUC`: the area under the ROC curve, from all scores seen (gathered across processes)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from cadence.distributed import all_gather, get_world_size
from cadence.metrics._inputs import as_pair, check_binary_values
from cadence.metrics.metric import Metric, NotComputableError, identity

__all__ = ["ROC_AUC", "roc_auc_score"]


def _binary_auc(scores: torch.Tensor, target: torch.Tensor) -> float:
    """The Mann-Whitney form of the AUC: the chance that a positive outscores a negative, ties counting half."""
    positives = int(target.sum().item())
    negatives = target.numel() - positives
    if positives == 0 or negatives == 0:
        raise ValueError(
            "ROC AUC is undefined when y holds only one class "
            f"({positives} positives, {negatives} negatives); it needs both 0s and 1s."
        )
    _, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    # Tied scores share the mean of the ranks they span (ranks start at 1).
    ends = counts.cumsum(0).double()
    mean_ranks = ends - (counts.double() - 1) / 2
    positive_rank_sum = float(mean_ranks[inverse][target.bool()].sum())
    return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def roc_auc_score(y_score: torch.Tensor, y_true: torch.Tensor) -> float:
    """The ROC AUC of scores ``(N,)`` against 0/1 targets ``(N,)``, or its mean over columns for ``(N, T)``.

    Example:
        >>> roc_auc_score(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    scores, target = y_score.double(), y_true
    if scores.dim() == 1:
        return _binary_auc(scores, target)
    per_column = [_binary_auc(scores[:, j], target[:, j]) for j in range(scores.shape[1])]
    return sum(per_column) / len(per_column)


class ROC_AUC(Metric):
    """Area under the ROC curve, for binary targets ``(N,)`` or ``(N, 1)``, or several targets ``(N, T)``
    (the mean of each column's AUC, like scikit-learn's macro average).

    ``y_pred`` holds scores (probabilities or logits) of the same shape as ``y`` (0s and 1s). All batches
    are kept until :meth:`compute`, which gathers them from every process.

    Args:
        check_compute_fn: compute on the first batch and warn if that fails (e.g. only one class seen).

    Example:
        >>> auc = ROC_AUC()
        >>> auc.update((torch.tensor([0.1, 0.4]), torch.tensor([0, 0])))
        >>> auc.update((torch.tensor([0.35, 0.8]), torch.tensor([1, 1])))
        >>> auc.compute()
        0.75
    """

    _state_names = ("_scores", "_targets")
    _lazy_state_names = frozenset(_state_names)

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = False,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self._check_compute_fn = check_compute_fn
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget all scores seen."""
        self._score_batches: list[torch.Tensor] = []
        self._target_batches: list[torch.Tensor] = []

    # The state is the concatenated batches; kept as properties so the per-update path only appends.
    @property
    def _scores(self) -> torch.Tensor | None:
        return torch.cat(self._score_batches) if self._score_batches else None

    @_scores.setter
    def _scores(self, value: torch.Tensor | None) -> None:
        self._score_batches = [] if value is None else [value]

    @property
    def _targets(self) -> torch.Tensor | None:
        return torch.cat(self._target_batches) if self._target_batches else None

    @_targets.setter
    def _targets(self, value: torch.Tensor | None) -> None:
        self._target_batches = [] if value is None else [value]

    def _check_state(self, state: dict[str, Any]) -> None:
        scores, targets = state["_scores"], state["_targets"]
        if (scores is None) != (targets is None) or (
            scores is not None and (not isinstance(scores, torch.Tensor) or scores.shape != targets.shape)
        ):
            raise ValueError("Cannot load ROC_AUC state: its scores and targets must be tensors of the same shape.")

    def update(self, output: Any) -> None:
        """Keep the scores and targets of one batch ``(y_pred, y)``."""
        y_pred, y = as_pair(output, "ROC_AUC")
        if y_pred.dim() == 2 and y_pred.shape[1] == 1:
            y_pred = y_pred.squeeze(1)
        if y.dim() == 2 and y.shape[1] == 1:
            y = y.squeeze(1)
        if y_pred.shape != y.shape or y.dim() not in (1, 2):
            raise ValueError(
                "ROC_AUC needs y_pred and y of the same shape, (batch_size,) or (batch_size, num_targets), "
                f"got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        check_binary_values(y, "y", "ROC_AUC")
        if self._score_batches and y.shape[1:] != self._target_batches[0].shape[1:]:
            raise ValueError(
                f"ROC_AUC got {tuple(y.shape[1:])} targets per sample after {tuple(self._target_batches[0].shape[1:])};"
                " every batch must have the same number of targets."
            )
        first = not self._score_batches
        self._score_batches.append(y_pred.detach().to(self._device, torch.float64, copy=True))
        self._target_batches.append(y.detach().to(self._device, torch.int64, copy=True))
        if first and self._check_compute_fn:
            try:
                roc_auc_score(self._score_batches[0], self._target_batches[0])
            except ValueError as error:
                warnings.warn(f"ROC_AUC could not be computed on the first batch: {error}", UserWarning, stacklevel=2)

    def compute(self) -> float:
        """The ROC AUC over all scores seen by every process."""
        scores, targets = self._scores, self._targets
        if get_world_size() > 1:
            # A process that saw nothing still joins the gathers, with no rows.
            width = () if scores is None or scores.dim() == 1 else scores.shape[1:]
            widths = all_gather(list(width))
            shape = (0, *max(widths, key=len))
            scores = all_gather(scores if scores is not None else torch.zeros(shape, dtype=torch.float64))
            targets = all_gather(targets if targets is not None else torch.zeros(shape, dtype=torch.int64))
        if scores is None or scores.numel() == 0 or targets is None:
            raise NotComputableError("ROC_AUC must have at least one example before it can be computed.")
        return roc_auc_score(scores, targets)
