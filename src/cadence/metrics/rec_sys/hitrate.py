""":class:`HitRate`: the share of queries with at least one relevant item among their top-k ranked items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.rec_sys._ranking import checked_batch, checked_top_k, ranked

__all__ = ["HitRate"]


class HitRate(Metric):
    """Hit rate at each ``k`` of ``top_k``: the share of queries with a relevant item (``y > 0``) in their top k.

    ``y_pred`` holds scores and ``y`` relevance, both ``(num_queries, num_items)``. Items with equal scores
    rank in their order. With ``ignore_zero_hits`` (the default) queries without any relevant item are left
    out. The result is a list with one rate per ``k``, in increasing order of ``k``.

    Args:
        top_k: one cut-off or a list of them.
        ignore_zero_hits: leave out queries that have no relevant item.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the counts are kept.

    Example:
        >>> hit_rate = HitRate(top_k=[1, 2])
        >>> scores = torch.tensor([[4.0, 2.0, 3.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
        >>> relevance = torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
        >>> hit_rate.update((scores, relevance))
        >>> hit_rate.compute()
        [0.0, 0.5]
    """

    _state_names = ("_hits_per_k", "_num_examples")

    def __init__(
        self,
        top_k: list[int] | int = 1,
        ignore_zero_hits: bool = True,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self.top_k = checked_top_k(top_k)
        self.ignore_zero_hits = ignore_zero_hits
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "ignore_zero_hits": self.ignore_zero_hits}

    def reset(self) -> None:
        """Forget all queries seen."""
        self._hits_per_k = torch.zeros(len(self.top_k), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add a batch ``(scores, relevance)``."""
        scores, relevance = checked_batch(output, "HitRate")
        relevant = relevance > 0
        if self.ignore_zero_hits:
            keep = relevant.any(dim=-1)
            scores, relevant = scores[keep], relevant[keep]
        if scores.shape[0] == 0:
            return
        # First position (1-based) of a relevant item in each ranking; a query without one never hits.
        hits_in_order = ranked(scores, relevant, self.top_k[-1])
        first_hit = torch.where(hits_in_order.any(dim=-1), hits_in_order.int().argmax(dim=-1) + 1, self.top_k[-1] + 1)
        cutoffs = torch.tensor(self.top_k, device=first_hit.device)
        hits = (first_hit.unsqueeze(1) <= cutoffs).sum(dim=0)
        self._hits_per_k += hits.to(self._hits_per_k)
        self._num_examples += scores.shape[0]

    def compute(self) -> list[float]:
        """The hit rate for each ``k`` of ``top_k``."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("HitRate must have at least one example before it can be computed.")
        return (reduced(self._hits_per_k) / num_examples).tolist()
