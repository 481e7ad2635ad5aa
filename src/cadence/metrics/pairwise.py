"""Comparing each predicted vector with its target vector: cosine similarity and p-norm distance, averaged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["CosineSimilarity", "MeanPairwiseDistance"]


class _MeanOverSamples(Metric):
    """The mean over samples of a per-sample value, summed in float64 and all-reduced across processes."""

    _state_names = ("_sum", "_num_examples")

    def reset(self) -> None:
        """Forget all samples seen."""
        self._sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def _per_sample(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def update(self, output: Any) -> None:
        """Accumulate one batch ``(y_pred, y)``: tensors of the same shape ``(N, ...)``."""
        kind = type(self).__name__
        y_pred, y = as_pair(output, kind)
        if y_pred.shape != y.shape or y.dim() < 1:
            raise ValueError(
                f"{kind} needs y_pred and y of the same shape (batch_size, ...), got {tuple(y_pred.shape)} and "
                f"{tuple(y.shape)}."
            )
        values = self._per_sample(y_pred.detach().to(torch.float64), y.detach().to(torch.float64))
        self._sum += values.sum().to(self._sum)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The mean over all samples seen by every process."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        return float(reduced(self._sum).item()) / num_examples


class CosineSimilarity(_MeanOverSamples):
    """The mean cosine similarity of each ``y_pred`` sample with its ``y`` sample (flattened), of shape ``(N, ...)``.

    Args:
        eps: the smallest norm a vector is divided by (avoids dividing by 0).
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`.

    Example:
        >>> cosine = CosineSimilarity()
        >>> cosine.update((torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [-1.0, -1.0]])))
        >>> round(cosine.compute(), 4)
        0.0
    """

    def __init__(
        self,
        eps: float = 1e-8,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not eps > 0:
            raise ValueError(f"CosineSimilarity needs eps > 0, got {eps!r}.")
        self.eps = float(eps)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def _per_sample(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_pred, y = y_pred.flatten(start_dim=1), y.flatten(start_dim=1)
        return torch.nn.functional.cosine_similarity(y_pred, y, dim=1, eps=self.eps)


class MeanPairwiseDistance(_MeanOverSamples):
    """The mean p-norm distance ``||y_pred - y + eps||_p`` between each ``y_pred`` row and its ``y`` row.

    Args:
        p: the norm's degree.
        eps: added to the differences (as :func:`torch.pairwise_distance` does) to avoid a zero norm's gradient.
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`.

    Example:
        >>> distance = MeanPairwiseDistance(eps=0.0)
        >>> distance.update((torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0], [1.0, 1.0]])))
        >>> distance.compute()
        2.5
    """

    def __init__(
        self,
        p: int = 2,
        eps: float = 1e-6,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not p > 0:
            raise ValueError(f"MeanPairwiseDistance needs a norm degree p > 0, got {p!r}.")
        self._p, self._eps = p, float(eps)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"p": self._p, "eps": self._eps}

    def _per_sample(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.pairwise_distance(y_pred, y, p=self._p, eps=self._eps)
