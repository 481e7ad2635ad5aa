"""The worked example of the metrics guide (docs/guides/metrics.md, "Exact across processes"), run as written
in 2 gloo processes: over uneven shards, and with one process that saw no data, each process gets exactly
the single-process value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import distributed as idist

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "metrics.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)
N, SHARD = 41, 13  # rank 0 gets the first SHARD samples, rank 1 the others


def _example() -> dict[str, Any]:
    """The names the guide's block defining ``WithinTolerance`` defines, that block run on its own."""
    blocks = [
        block for block in _PYTHON_BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if "class WithinTolerance(" in block
    ]
    assert len(blocks) == 1, f"{GUIDE.name} should have one block defining WithinTolerance, found {len(blocks)}"
    names: dict[str, Any] = {"__name__": "metrics_guide_example"}
    exec(compile(blocks[0], str(GUIDE), "exec"), names)  # our own documentation's code
    return names


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    y = torch.randn(N, generator=g, dtype=torch.float64)
    return y + torch.randn(N, generator=g, dtype=torch.float64), y


def _values(rows: slice) -> tuple[float, float]:
    example = _example()
    within, median = example["WithinTolerance"](0.5), example["EpochMetric"](example["median_absolute_error"])
    y_pred, y = _data()
    for start in range(rows.start, rows.stop, 4):  # batches of 4 (the last shorter)
        batch = (y_pred[start : min(start + 4, rows.stop)], y[start : min(start + 4, rows.stop)])
        within.update(batch)
        median.update(batch)
    return within.compute(), median.compute()


def _uneven_shards(local_rank: int) -> tuple[float, float]:
    return _values(slice(0, SHARD) if idist.get_rank() == 0 else slice(SHARD, N))


def _one_process_without_data(local_rank: int) -> tuple[float, float]:
    return _values(slice(0, N) if idist.get_rank() == 0 else slice(N, N))


def test_the_example_in_one_process() -> None:
    within, median = _values(slice(0, N))
    y_pred, y = _data()
    assert within == float(((y_pred - y).abs() <= 0.5).sum()) / N
    assert median == float((y_pred - y).abs().median())


@pytest.mark.slow
def test_the_example_over_two_processes_gives_the_single_process_values_exactly() -> None:
    single = _values(slice(0, N))
    for job in (_uneven_shards, _one_process_without_data):
        with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
            results: list[tuple[float, float]] = parallel.run(job)
        assert results == [single, single], (job.__name__, results, single)
