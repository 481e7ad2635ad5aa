"""Every metric over two gloo processes with uneven shards equals the single-process value over all data."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from cadence import distributed as idist
from tests.metrics import _distributed_job as job


@pytest.fixture(scope="module")
def sharded() -> list[dict[str, Any]]:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results: list[dict[str, Any]] = parallel.run(job.run_sharded)
    return results


def close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[key], b[key]) for key in a)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.allclose(torch.as_tensor(a).double(), torch.as_tensor(b).double(), rtol=1e-9, atol=1e-12)
    return bool(a == pytest.approx(b, rel=1e-9, abs=1e-12))


@pytest.mark.slow
def test_every_metric_over_uneven_shards_equals_the_single_process_value(sharded: list[dict[str, Any]]) -> None:
    single = job.run_single()
    mismatches = []
    for rank, results in enumerate(sharded):
        for name in job.metrics():
            for key in (name, f"{name}/again"):
                if not close(results[key], single[name]):
                    mismatches.append((rank, key, results[key], single[name]))
        if not close(results["torchmetrics"], single["torchmetrics"]):
            mismatches.append((rank, "torchmetrics", results["torchmetrics"], single["torchmetrics"]))
    assert not mismatches


@pytest.mark.slow
def test_processes_without_data_and_running_averages(sharded: list[dict[str, Any]]) -> None:
    single = job.run_single()
    for results in sharded:
        for name in (
            "precision",
            "precision_binary",
            "recall_binary",
            "fbeta_binary",
            "average_vectors",
            "average_mixed",
        ):
            assert close(results[f"{name}_one_rank"], single[f"{name}_one_rank"]), name
        assert results["running_average"] == pytest.approx(results["expected_running_average"])


@pytest.mark.slow
def test_processes_fed_different_kinds_or_shapes_get_a_clear_error(sharded: list[dict[str, Any]]) -> None:
    for results in sharded:
        kinds, shapes = results["mismatch_errors"]
        assert "different kinds of data or numbers of classes" in kinds
        assert "values of the same shape" in shapes
