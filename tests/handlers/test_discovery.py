"""Finding the newest checkpoint: by the step in its name (or stored in it), never by file times."""

import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers.checkpoint import Checkpoint, checkpoints_by_recency, find_latest_checkpoint
from cadence.handlers.savers import DiskSaver


def _train(folder: Path, iterations: int, every: int = 5) -> tuple[nn.Module, Engine[None]]:
    model = nn.Linear(2, 1)
    trainer: Engine[None] = Engine(lambda engine, batch: model.weight.data.add_(1.0))
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, DiskSaver(folder, require_empty=False), n_saved=3)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=every), checkpoint)
    trainer.run(range(iterations), max_epochs=1)
    return model, trainer


def _make_older(path: Path) -> None:
    now = time.time()
    os.utime(path, (now - 1000, now - 1000))


def _make_newer(path: Path) -> None:
    now = time.time()
    os.utime(path, (now + 1000, now + 1000))


def test_resume_after_copying_the_folder_picks_the_highest_step(tmp_path: Path) -> None:
    _train(tmp_path / "run", iterations=20)
    # a copy that does not keep file times, written in an order that makes step 15 the newest file
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "run", copy, copy_function=shutil.copyfile)
    _make_older(copy / "checkpoint_20.pt")
    _make_newer(copy / "checkpoint_15.pt")
    trainer: Engine[None] = Engine(lambda engine, batch: None)
    path = Checkpoint.resume({"model": nn.Linear(2, 1), "trainer": trainer}, copy)
    assert path == copy / "checkpoint_20.pt"
    assert trainer.state.iteration == 20
    assert find_latest_checkpoint(copy) == copy / "checkpoint_20.pt"
    assert [p.name for p in checkpoints_by_recency(copy)] == [
        "checkpoint_20.pt",
        "checkpoint_15.pt",
        "checkpoint_10.pt",
    ]


def test_steps_compare_as_numbers_and_with_scores_in_the_name(tmp_path: Path) -> None:
    names = ["model_9.pt", "model_100_val_acc=0.5000.pt", "model_20_val_acc=0.9000.pt", "model_0.9900.pt"]
    for name in names:
        torch.save({"w": torch.ones(1)}, tmp_path / name)
    _make_newer(tmp_path / "model_9.pt")
    assert [p.name for p in checkpoints_by_recency(tmp_path)] == [
        "model_100_val_acc=0.5000.pt",
        "model_20_val_acc=0.9000.pt",
        "model_9.pt",
        "model_0.9900.pt",  # no step in its name, and no engine state stored in it
    ]


def test_files_without_a_step_in_their_name_are_ordered_by_their_stored_iteration(tmp_path: Path) -> None:
    for name, iteration in [("best_a.pt", 30), ("best_b.pt", 10), ("best_c.pt", 20)]:
        torch.save(
            {"model": {"w": torch.ones(1)}, "trainer": {"iteration": iteration, "epoch_length": 5}}, tmp_path / name
        )
    _make_newer(tmp_path / "best_b.pt")
    assert [p.name for p in checkpoints_by_recency(tmp_path)] == ["best_a.pt", "best_c.pt", "best_b.pt"]


def test_no_checkpoint_in_a_folder(tmp_path: Path) -> None:
    assert find_latest_checkpoint(tmp_path) is None
    with pytest.raises(ValueError, match="is not a folder"):
        checkpoints_by_recency(tmp_path / "missing")
