"""Two ranks share one checkpoint folder (two machines on a shared file system): only the saving rank adopts or
judges the folder's files, so no rank warns about the file the saving rank of the same run has just written."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine
from cadence import distributed as idist
from cadence.handlers import Checkpoint, DiskSaver

pytestmark = pytest.mark.slow


def best_model_on_both_ranks(local_rank: int, folder: str) -> list[str]:
    """Rank 0 saves first; rank 1 reaches its checkpoint call only once rank 0's file exists."""
    evaluator = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint(
        {"model": nn.Linear(1, 1)},
        DiskSaver(folder, require_empty=False),
        n_saved=1,
        score_function=lambda engine: 0.5,
        score_name="accuracy",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for rank in range(2):
            if idist.get_rank() == rank:
                checkpoint(evaluator)
            idist.barrier()
    return [str(warning.message) for warning in caught]


def test_a_rank_sharing_the_folder_does_not_warn_about_the_file_the_saving_rank_wrote(tmp_path: Path) -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        messages: list[Any] = parallel.run(best_model_on_both_ranks, str(tmp_path))
    assert messages == [[], []]
    assert [path.name for path in tmp_path.iterdir()] == ["model_accuracy=0.5000.pt"]
    assert torch.load(tmp_path / "model_accuracy=0.5000.pt", weights_only=True).keys() == {"weight", "bias"}
