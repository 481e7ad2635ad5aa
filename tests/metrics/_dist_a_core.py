"""2-process table of the core family (helper A): a metric written for Ignite's decorators, accumulation and
information metrics. Picked up by tests/metrics/_distributed_job.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics import (
    HSIC,
    Accuracy,
    Average,
    Entropy,
    GeometricAverage,
    JSDivergence,
    KLDivergence,
    MaximumMeanDiscrepancy,
    Metric,
    MetricGroup,
    MutualInformation,
    NotComputableError,
    Precision,
    VariableAccumulation,
)
from cadence.metrics.metric import reinit__is_reduced, sync_all_reduce

# Batch-averaged metrics (MMD, HSIC) are fed fixed chunks of CHUNK samples at global positions: the shards
# of tests/metrics/_distributed_job.py split the data at SHARD = 20, a multiple of CHUNK, so the processes
# together see exactly the chunks that one process sees.
CHUNK = 4


class IgniteUserMetric(Metric):
    """Written as for Ignite: accumulators set under reinit__is_reduced, reduced by sync_all_reduce."""

    @reinit__is_reduced
    def reset(self) -> None:
        self._sum = torch.tensor(0.0, dtype=torch.float64, device=self._device)
        self._num_examples = 0
        self._largest = -1e9
        self._smallest = torch.tensor(1e9, dtype=torch.float64, device=self._device)
        self._product = torch.tensor(1, dtype=torch.int64, device=self._device)

    @reinit__is_reduced
    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        if y.numel() == 0:
            return
        self._sum += y_pred.double().sum()
        self._num_examples += y.shape[0]
        self._largest = max(self._largest, y_pred.max().item())
        self._smallest = torch.minimum(self._smallest, y_pred.double().min())
        self._product *= y.prod()

    @sync_all_reduce("_num_examples", "_sum:SUM", "_largest:MAX", "_smallest:MIN", "_product:PRODUCT")
    def compute(self) -> list[Any]:
        if self._num_examples == 0:
            raise NotComputableError("IgniteUserMetric needs at least one example.")
        return [self._sum / self._num_examples, self._largest, self._smallest, self._product, self._num_examples]


class FirstOf(Metric):
    """Feeds only y_pred of each (y_pred, y) batch to a metric of one value."""

    def __init__(self, inner: Metric) -> None:
        self.inner = inner
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.inner.update(output[0])

    def compute(self) -> Any:
        return self.inner.compute()


class InChunks(Metric):
    """Keeps every sample; at compute(), feeds the inner metric chunks of CHUNK samples (the last may be shorter)."""

    def __init__(self, inner: Metric, smallest: int) -> None:
        self.inner, self.smallest = inner, smallest
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.seen.append(output)

    def compute(self) -> Any:
        self.inner.reset()
        if self.seen:
            x, y = (torch.cat([pair[i] for pair in self.seen]) for i in (0, 1))
            for start in range(0, len(x), CHUNK):
                if len(x[start : start + CHUNK]) >= self.smallest:
                    self.inner.update((x[start : start + CHUNK], y[start : start + CHUNK]))
        return self.inner.compute()


def data(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(11)
    return {
        "a_values": (torch.randn(n, 3, generator=g), torch.randint(1, 3, (n,), generator=g)),
        "a_positive": (torch.rand(n, 3, generator=g, dtype=torch.float64) + 0.5, torch.zeros(n)),
        "a_logits": (torch.randn(n, 4, generator=g) * 2, torch.randn(n, 4, generator=g)),
        "a_logits_maps": (torch.randn(n, 3, 2, generator=g), torch.randn(n, 3, 2, generator=g)),
        "a_features": (torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g) + 0.5),
    }


def metrics() -> dict[str, tuple[str, Callable[[], Metric]]]:
    return {
        "a_ignite_user_metric": ("a_values", IgniteUserMetric),
        "a_variable_accumulation": (
            "a_values",
            lambda: FirstOf(VariableAccumulation(lambda acc, x: acc + (x**2).sum(dim=0))),
        ),
        "a_average_rows": ("a_positive", lambda: FirstOf(Average())),
        "a_geometric_average": ("a_positive", lambda: FirstOf(GeometricAverage())),
        "a_metric_group": ("binary", lambda: MetricGroup({"accuracy": Accuracy(), "precision": Precision()})),
        "a_entropy": ("a_logits", Entropy),
        "a_entropy_maps": ("a_logits_maps", Entropy),
        "a_mutual_information": ("a_logits", MutualInformation),
        "a_mutual_information_maps": ("a_logits_maps", MutualInformation),
        "a_kl_divergence": ("a_logits", KLDivergence),
        "a_js_divergence": ("a_logits_maps", JSDivergence),
        "a_mmd": ("a_features", lambda: InChunks(MaximumMeanDiscrepancy(var=2.0), smallest=2)),
        "a_hsic": ("a_features", lambda: InChunks(HSIC(), smallest=1)),
        "a_hsic_fixed_width": ("a_features", lambda: InChunks(HSIC(sigma_x=1.5, sigma_y=2.0), smallest=1)),
    }
