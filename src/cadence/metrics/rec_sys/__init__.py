"""Recommender-system metrics: :class:`HitRate` and :class:`NDCG` over ``(scores, relevance)`` per query.

Example:
    >>> import torch
    >>> from cadence.metrics.rec_sys import HitRate
    >>> hit_rate = HitRate(top_k=2)
    >>> hit_rate.update((torch.tensor([[0.9, 0.5, 0.1]]), torch.tensor([[0.0, 0.0, 1.0]])))
    >>> hit_rate.compute()
    [0.0]
"""

from cadence.metrics.rec_sys.hitrate import HitRate
from cadence.metrics.rec_sys.ndcg import NDCG

__all__ = ["NDCG", "HitRate"]
