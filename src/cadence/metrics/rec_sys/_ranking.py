"""What the ranking metrics share: checking ``top_k`` and the ``(scores, relevance)`` batches, and ranking."""

from __future__ import annotations

from typing import Any

import torch

from cadence.metrics._inputs import as_pair

__all__ = ["checked_batch", "checked_top_k", "ranked"]


def checked_top_k(top_k: Any) -> list[int]:
    """``top_k`` as a sorted list of positive ints (an int is a list of one)."""
    if isinstance(top_k, bool) or not isinstance(top_k, int | list | tuple):
        raise ValueError(f"top_k must be either int or a list[int], got {top_k!r}.")
    values = [top_k] if isinstance(top_k, int) else list(top_k)
    if len(values) == 0:
        raise ValueError("top_k must have at least one positive value, got an empty list.")
    if any(not isinstance(k, int) or isinstance(k, bool) or k <= 0 for k in values):
        raise ValueError(f"top_k must be list of positive integers only, but given {top_k!r}.")
    return sorted(values)


def checked_batch(output: Any, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scores, relevance)``, both ``(num_queries, num_items)``, detached."""
    y_pred, y = as_pair(output, kind)
    if y_pred.shape != y.shape:
        raise ValueError(f"y_pred and y must be in the same shape, got {tuple(y_pred.shape)} != {tuple(y.shape)}.")
    if y_pred.dim() != 2:
        raise ValueError(f"{kind} needs y_pred and y of shape (num_queries, num_items), got {tuple(y_pred.shape)}.")
    if y_pred.is_floating_point() and bool(torch.isnan(y_pred).any()):
        raise ValueError(f"{kind}: y_pred holds NaN scores, which cannot be ranked.")
    return y_pred.detach(), y.detach()


def ranked(scores: torch.Tensor, values: torch.Tensor, k: int) -> torch.Tensor:
    """``values`` of each row's ``k`` best-scored items, best first; ties keep the items' order."""
    order = torch.argsort(scores, dim=-1, descending=True, stable=True)[:, :k]
    return torch.gather(values, -1, order)
