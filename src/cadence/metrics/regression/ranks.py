"""Rank correlations, Spearman's rho and Kendall's tau, over all samples of all processes.

Both are computed with torch (no SciPy needed): Spearman's rho is Pearson's correlation of the ranks
(ties get their mean rank); Kendall's tau counts discordant pairs by merging sorted blocks, O(n log² n).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.epoch_metric import EpochMetric
from cadence.metrics.metric import identity
from cadence.metrics.regression._checks import column_pair

__all__ = ["KendallRankCorrelation", "KendallVariant", "SpearmanRankCorrelation", "kendall_tau", "spearman_rho"]


def _mean_ranks(values: torch.Tensor) -> torch.Tensor:
    """The 1-based rank of each value; tied values share the mean of their ranks (SciPy's ``'average'``)."""
    order = values.argsort()
    _, inverse, counts = torch.unique_consecutive(values[order], return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).to(torch.float64)
    group_ranks = ends - (counts.to(torch.float64) - 1) / 2
    ranks = torch.empty_like(values, dtype=torch.float64)
    ranks[order] = group_ranks[inverse]
    return ranks


def spearman_rho(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman's rank correlation of two 1-d tensors; NaN when either is constant or has fewer than 2 values.

    Example:
        >>> spearman_rho(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 4.0]))
        0.8
    """
    if y_pred.numel() < 2:
        return math.nan
    pred_ranks, ranks = _mean_ranks(y_pred.reshape(-1)), _mean_ranks(y.reshape(-1))
    pred_ranks, ranks = pred_ranks - pred_ranks.mean(), ranks - ranks.mean()
    denominator = (pred_ranks.square().sum() * ranks.square().sum()).sqrt()
    if denominator == 0:
        return math.nan
    return float((pred_ranks * ranks).sum() / denominator)


def _tied_pairs(values: torch.Tensor) -> int:
    """The number of pairs of equal values (of equal rows, for a 2-d tensor)."""
    counts = torch.unique(values, dim=0, return_counts=True)[1].to(torch.int64)
    return int((counts * (counts - 1) // 2).sum())


_BRUTE_FORCE_WIDTH = 16


def _strict_inversions(values: torch.Tensor) -> int:
    """The number of pairs ``i < j`` with ``values[i] > values[j]``.

    Pairs within blocks of 16 are compared directly; then sorted blocks merge pairwise, level by level,
    each right item counting the left items greater than it with one batched binary search.
    """
    count, width = values.numel(), _BRUTE_FORCE_WIDTH
    ranks = torch.unique(values, return_inverse=True)[1]
    size = max(width, 1 << (count - 1).bit_length())
    work = torch.cat([ranks, ranks.new_full((size - count,), count)])  # a rank above all: adds no inversion
    blocks = work.reshape(-1, width)
    later = torch.ones(width, width, dtype=torch.bool, device=values.device).triu(1)
    inversions = int(((blocks.unsqueeze(2) > blocks.unsqueeze(1)) & later).sum())
    work = blocks.sort(dim=1).values.reshape(-1)
    while width < size:
        pairs = work.reshape(-1, 2, width)
        left, right = pairs[:, 0].contiguous(), pairs[:, 1].contiguous()
        inversions += int((width - torch.searchsorted(left, right, right=True)).sum())
        work = pairs.reshape(-1, 2 * width).sort(dim=1).values.reshape(-1)
        width *= 2
    return inversions


class KendallVariant(enum.Enum):
    """How Kendall's tau accounts for ties: ``B`` (tau-b, adjusted for ties) or ``C`` (tau-c, Stuart's).

    Example:
        >>> x, y = torch.tensor([1.0, 2.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 4.0])
        >>> round(kendall_tau(x, y, KendallVariant.B), 4), round(kendall_tau(x, y, KendallVariant.C), 4)
        (0.9129, 0.9375)
    """

    B = "b"
    C = "c"


def kendall_tau(y_pred: torch.Tensor, y: torch.Tensor, variant: KendallVariant | str = KendallVariant.B) -> float:
    """Kendall's rank correlation of two 1-d tensors (as SciPy's ``kendalltau``); NaN when it is undefined.

    Example:
        >>> kendall_tau(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 4.0]))
        0.6666666666666666
    """
    variant = KendallVariant(variant)
    x, y = y_pred.reshape(-1).to(torch.float64), y.reshape(-1).to(torch.float64)
    count = x.numel()
    if count < 2:
        return math.nan
    # Sort by x, then y: a discordant pair is then an inversion of y (pairs tied in x are in y order).
    by_y = y.argsort(stable=True)
    order = by_y[x[by_y].argsort(stable=True)]
    discordant = _strict_inversions(y[order])
    total = count * (count - 1) // 2
    x_ties, y_ties = _tied_pairs(x), _tied_pairs(y)
    joint_ties = _tied_pairs(torch.stack([x, y], dim=1))
    concordant_minus_discordant = total - x_ties - y_ties + joint_ties - 2 * discordant
    if variant is KendallVariant.B:
        denominator = math.sqrt((total - x_ties) * (total - y_ties))
        return concordant_minus_discordant / denominator if denominator else math.nan
    classes = min(len(torch.unique(x)), len(torch.unique(y)))
    if classes < 2:
        return math.nan
    return 2 * concordant_minus_discordant / (count * count * (classes - 1) / classes)


class _RankCorrelation(EpochMetric):
    """Keeps every ``(y_pred, y)`` of shape ``(N,)`` or ``(N, 1)``; the correlation is over all of them."""

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(self._correlation_of, output_transform, check_compute_fn, device, skip_unrolling)

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return column_pair(output, type(self).__name__)

    def compute(self) -> float:
        """The correlation over all samples of all processes."""
        return self._correlation_of(*self._gathered(torch.float64, torch.float64))

    def _correlation_of(self, y_pred: torch.Tensor, y: torch.Tensor) -> float:
        """The correlation of the given samples (``compute_fn``): ``y_pred`` and ``y`` of shape ``(N,)`` or
        ``(N, 1)``."""
        y_pred, y = y_pred.to(torch.float64).reshape(-1), y.to(torch.float64).reshape(-1)
        if not bool(torch.isfinite(y_pred).all() and torch.isfinite(y).all()):
            raise ValueError(f"{type(self).__name__} got NaN or infinite values; it needs finite values to rank.")
        return self._correlation(y_pred, y)

    def _correlation(self, y_pred: torch.Tensor, y: torch.Tensor) -> float:
        raise NotImplementedError


class SpearmanRankCorrelation(_RankCorrelation):
    """Spearman's rank correlation between ``y_pred`` and ``y`` (shape ``(N,)`` or ``(N, 1)``), over all samples.

    Args:
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`.
        check_compute_fn: compute the correlation of the first batch and warn
            (:class:`~cadence.metrics.epoch_metric.EpochMetricWarning`) if that fails (e.g. NaN values), as Ignite.

    Example:
        >>> rho = SpearmanRankCorrelation()
        >>> rho.update((torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 4.0])))
        >>> rho.compute()
        0.8
    """

    def _correlation(self, y_pred: torch.Tensor, y: torch.Tensor) -> float:
        return spearman_rho(y_pred, y)


class KendallRankCorrelation(_RankCorrelation):
    """Kendall's rank correlation between ``y_pred`` and ``y`` (shape ``(N,)`` or ``(N, 1)``), over all samples.

    Args:
        variant: ``'b'`` (tau-b, default) or ``'c'`` (tau-c), how ties are accounted for.
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`.
        check_compute_fn: compute the correlation of the first batch and warn
            (:class:`~cadence.metrics.epoch_metric.EpochMetricWarning`) if that fails (e.g. NaN values), as Ignite.

    Example:
        >>> tau = KendallRankCorrelation()
        >>> tau.update((torch.tensor([0.5, 2.8, 1.9, 1.3, 6.0, 4.1]), torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])))
        >>> round(tau.compute(), 4)
        0.4667
    """

    def __init__(
        self,
        variant: KendallVariant | str = KendallVariant.B,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        try:
            self.variant = KendallVariant(variant)
        except ValueError:
            raise ValueError(f"KendallRankCorrelation: variant accepts 'b' or 'c', got {variant!r}.") from None
        super().__init__(output_transform, check_compute_fn, device, skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"variant": self.variant.value}

    def _correlation(self, y_pred: torch.Tensor, y: torch.Tensor) -> float:
        return kendall_tau(y_pred, y, variant=self.variant)
