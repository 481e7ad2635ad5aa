""":class:`NDCG`: normalised discounted cumulative gain of rankings at several cut-offs."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.rec_sys._ranking import checked_batch, checked_top_k, ranked

__all__ = ["NDCG", "Gain"]


class Gain(Enum):
    """The gain of an item of relevance ``r``.

    Example:
        >>> Gain("linear_rank") is Gain.LINEAR
        True
    """

    EXPONENTIAL = "exp_rank"
    """``2**r - 1``."""
    LINEAR = "linear_rank"
    """``r``."""


class NDCG(Metric):
    """NDCG at each ``k`` of ``top_k``: ``DCG@k / IDCG@k`` averaged over queries.

    ``DCG@k`` sums the gains of the k best-scored items discounted by ``log2(position + 1)``, and ``IDCG@k``
    is the DCG of the best possible order. Relevance below ``relevance_threshold`` counts as 0. ``y_pred``
    holds scores and ``y`` relevance, both ``(num_queries, num_items)``; items with equal scores rank in
    their order. With ``ignore_zero_hits`` (the default) queries without any relevant item are left out;
    otherwise they count as 0. The result is a list with one value per ``k``, in increasing order of ``k``.

    Args:
        top_k: the cut-offs.
        ignore_zero_hits: leave out queries without a relevant item.
        relevance_threshold: the least relevance that counts.
        gain_function: ``"exp_rank"`` (``2**r - 1``) or ``"linear_rank"`` (``r``), see :class:`Gain`.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums are kept.

    Example:
        >>> ndcg = NDCG(top_k=[1, 3], gain_function="linear_rank")
        >>> scores = torch.tensor([[3.0, 2.0, 1.0]])
        >>> relevance = torch.tensor([[0.0, 1.0, 1.0]])
        >>> ndcg.update((scores, relevance))
        >>> [round(value, 4) for value in ndcg.compute()]
        [0.0, 0.6934]
    """

    _state_names = ("_sum_ndcg_per_k", "_num_examples")

    def __init__(
        self,
        top_k: list[int] | int,
        ignore_zero_hits: bool = True,
        relevance_threshold: float = 1.0,
        gain_function: str | Gain = "exp_rank",
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self.top_k = checked_top_k(top_k)
        valid = [gain.value for gain in Gain]
        if not isinstance(gain_function, Gain) and gain_function not in valid:
            raise ValueError(f"gain_function must be either 'exp_rank' or 'linear_rank', but given {gain_function!r}")
        self.gain_function = Gain(gain_function).value
        self.ignore_zero_hits = ignore_zero_hits
        self.relevance_threshold = relevance_threshold
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "ignore_zero_hits": self.ignore_zero_hits,
            "relevance_threshold": self.relevance_threshold,
            "gain_function": self.gain_function,
        }

    def reset(self) -> None:
        """Forget all queries seen."""
        self._sum_ndcg_per_k = torch.zeros(len(self.top_k), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def _cumulative_dcg(self, relevance: torch.Tensor) -> torch.Tensor:
        """DCG at every cut-off 1..n of rankings given as relevance in rank order."""
        gains = torch.pow(2.0, relevance) - 1 if self.gain_function == Gain.EXPONENTIAL.value else relevance
        positions = torch.arange(2, relevance.shape[1] + 2, dtype=torch.float64, device=relevance.device)
        return (gains / torch.log2(positions)).cumsum(dim=-1)

    def update(self, output: Any) -> None:
        """Add a batch ``(scores, relevance)``."""
        scores, relevance = checked_batch(output, "NDCG")
        relevance = relevance.double()
        counted = torch.where(relevance >= self.relevance_threshold, relevance, torch.zeros_like(relevance))
        if self.ignore_zero_hits:
            keep = (relevance >= self.relevance_threshold).any(dim=-1)
            scores, counted = scores[keep], counted[keep]
        if scores.shape[0] == 0:
            return
        deepest = min(self.top_k[-1], scores.shape[1])
        dcg = self._cumulative_dcg(ranked(scores, counted, deepest))
        ideal = self._cumulative_dcg(counted.sort(dim=-1, descending=True).values[:, :deepest])
        columns = torch.tensor([min(k, deepest) - 1 for k in self.top_k], device=dcg.device)
        dcg, ideal = dcg[:, columns], ideal[:, columns]
        ndcg = torch.where(
            ideal > 0, dcg / torch.where(ideal > 0, ideal, torch.ones_like(ideal)), torch.zeros_like(dcg)
        )
        self._sum_ndcg_per_k += ndcg.sum(dim=0).to(self._sum_ndcg_per_k)
        self._num_examples += scores.shape[0]

    def compute(self) -> list[float]:
        """NDCG for each ``k`` of ``top_k``."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("NDCG must have at least one example before it can be computed.")
        return (reduced(self._sum_ndcg_per_k) / num_examples).tolist()
