"""An evaluation set smaller than the world size: the rank with an empty shard runs no iteration and agrees."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from cadence import distributed as idist
from cadence.engine import Engine, create_supervised_evaluator
from cadence.metrics import Accuracy, Loss


def _evaluate(size: int) -> dict[str, Any]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    data = torch.utils.data.TensorDataset(torch.randn(size, 4), torch.arange(size) % 3)
    loader = idist.auto_dataloader(data, batch_size=4, shuffle=False)
    metrics = {"accuracy": Accuracy(), "loss": Loss(torch.nn.functional.cross_entropy)}
    evaluator = create_supervised_evaluator(model, metrics=metrics)
    state = evaluator.run(loader, max_epochs=2)  # two epochs: the empty rank also keeps in step epoch after epoch
    return {"metrics": state.metrics, "iteration": state.iteration, "epoch": state.epoch, "length": len(loader)}


def job(local_rank: int, size: int) -> dict[str, Any]:
    return _evaluate(size)


@pytest.mark.slow
def test_a_rank_with_an_empty_shard_runs_no_iteration_and_gets_the_single_process_metrics() -> None:
    single = _evaluate(1)
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(job, 1)
    assert [r["length"] for r in results] == [1, 0]
    assert [r["iteration"] for r in results] == [2, 0] and [r["epoch"] for r in results] == [2, 2]
    for result in results:
        assert result["metrics"] == pytest.approx(single["metrics"])


def test_empty_data_in_one_process_is_still_refused() -> None:
    with pytest.raises(ValueError, match="zero size"):
        Engine(lambda engine, batch: None).run([])
