"""Two gloo processes, core family (helper A): a process that saw no data still gets the value over all data,
and per-batch statistics average over the batches of all processes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from cadence import distributed as idist
from cadence.metrics import (
    HSIC,
    Entropy,
    GeometricAverage,
    KLDivergence,
    MaximumMeanDiscrepancy,
    Metric,
    MutualInformation,
    VariableAccumulation,
)
from tests.metrics._dist_a_core import IgniteUserMetric


def _pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    return [(torch.rand(size, 4, generator=g) + 0.5, torch.randint(1, 3, (size,), generator=g)) for size in (5, 7, 4)]


def _factories() -> dict[str, Any]:
    return {
        "entropy": Entropy,
        "mutual_information": MutualInformation,
        "kl": KLDivergence,
        "ignite_user_metric": IgniteUserMetric,
        "mmd": MaximumMeanDiscrepancy,
        "hsic": HSIC,
    }


def _values(feed: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, make in _factories().items():
        metric: Metric = make()
        for x, y in feed:
            metric.update((x, torch.log(x) if name == "kl" else (y if name == "ignite_user_metric" else x.sin())))
        results[name] = metric.compute()
    for name, metric in (
        ("variable_accumulation", VariableAccumulation(lambda acc, x: acc + x.sum(dim=0))),
        ("geometric_average", GeometricAverage()),
    ):
        for x, _ in feed:
            metric.update(x)
        results[name] = metric.compute()
    return results


def _run(local_rank: int) -> dict[str, Any]:
    pairs = _pairs()
    # Rank 0 sees every batch, rank 1 none: its 0-d accumulators must still join the reductions.
    return _values(pairs if idist.get_rank() == 0 else [])


def _split_batches(local_rank: int) -> dict[str, Any]:
    pairs = _pairs()
    return _values(pairs[:2] if idist.get_rank() == 0 else pairs[2:])


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, tuple | list):
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(torch.allclose(torch.as_tensor(a).double(), torch.as_tensor(b).double(), rtol=1e-9, atol=1e-12))


@pytest.mark.slow
def test_a_process_without_data_and_batches_split_over_processes_give_the_single_process_value() -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        one_sided: list[dict[str, Any]] = parallel.run(_run)
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        split: list[dict[str, Any]] = parallel.run(_split_batches)
    single = _values(_pairs())
    for results in (*one_sided, *split):
        for name, value in single.items():
            assert _close(results[name], value), (name, results[name], value)
