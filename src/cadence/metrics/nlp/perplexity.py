""":class:`Perplexity`: ``exp`` of the mean negative log-likelihood per token of a language model."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["Perplexity"]


class Perplexity(Metric):
    """The perplexity ``exp(total NLL / number of tokens)``, weighting every token alike across batches.

    ``y_pred`` holds logits of shape ``(batch_size, vocab_size, seq_len, ...)`` and ``y`` token indices of
    shape ``(batch_size, seq_len, ...)``; tokens equal to ``ignore_index`` are left out.

    Example:
        >>> perplexity = Perplexity()
        >>> logits = torch.zeros(1, 4, 3)  # uniform over 4 tokens, for 3 positions
        >>> perplexity.update((logits, torch.tensor([[0, 1, 2]])))
        >>> round(perplexity.compute(), 6)
        4.0
    """

    _state_names = ("_sum_of_nll", "_num_tokens")

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        ignore_index: int = -100,
        skip_unrolling: bool = False,
    ) -> None:
        self._ignore_index = ignore_index
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"ignore_index": self._ignore_index}

    def reset(self) -> None:
        """Forget all tokens seen."""
        self._sum_of_nll = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_tokens = 0

    def update(self, output: Any) -> None:
        """Add a batch ``(logits, targets)``."""
        y_pred, y = as_pair(output, "Perplexity")
        y_pred, y = y_pred.detach(), y.detach()
        if y_pred.dim() < 2:
            raise ValueError(f"y_pred must be at least 2-dimensional (got shape: {tuple(y_pred.shape)})")
        if y.dim() < 1:
            raise ValueError(f"y must be at least 1-dimensional (got shape: {tuple(y.shape)})")
        if y_pred.dim() != y.dim() + 1:
            raise ValueError(
                f"y_pred must have exactly one more dimension than y (got y_pred={y_pred.dim()}D and y={y.dim()}D): "
                "give logits (batch_size, vocab_size, seq_len) and targets (batch_size, seq_len)."
            )
        if y_pred.shape[0] != y.shape[0] or y_pred.shape[2:] != y.shape[1:]:
            raise ValueError(
                f"y_pred and y have incompatible shapes: y_pred={tuple(y_pred.shape)}, y={tuple(y.shape)} "
                "(expected y_pred[0] == y[0] and y_pred[2:] == y[1:])."
            )
        if y.is_floating_point():
            raise TypeError(f"Perplexity: y must hold integer token indices, got dtype {y.dtype}.")
        if y_pred.is_floating_point() and bool(torch.isnan(y_pred).any()):
            raise ValueError("Perplexity: y_pred holds NaN logits; the model's output cannot be scored.")
        nll = F.cross_entropy(y_pred.double(), y.long(), reduction="sum", ignore_index=self._ignore_index)
        self._sum_of_nll += nll.to(self._sum_of_nll)
        self._num_tokens += int((y != self._ignore_index).sum())

    def compute(self) -> float:
        """``exp`` of the mean negative log-likelihood per token."""
        num_tokens = reduced(self._num_tokens)
        if num_tokens == 0:
            raise NotComputableError("Perplexity must have at least one example before it can be computed.")
        return math.exp(reduced(self._sum_of_nll).item() / num_tokens)
