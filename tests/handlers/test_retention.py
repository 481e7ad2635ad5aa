"""Retention across restarts: a new Checkpoint over a folder adopts the checkpoints already there."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers.checkpoint import Checkpoint, ModelCheckpoint
from cadence.handlers.savers import DiskSaver

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from cadence import Engine, Events
    from cadence.handlers import Checkpoint, DiskSaver

    folder, kill_at, kill_in_save = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = torch.nn.Linear(2, 1)
    trainer = Engine(lambda engine, batch: model.weight.data.add_(1.0))
    to_save = {"model": model, "trainer": trainer}
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(every=2), Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=2)
    )
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(once=kill_at), lambda: os.kill(os.getpid(), signal.SIGKILL)
    )
    real_replace = os.replace

    def replace_then_die(source, target):
        if trainer.state.iteration == kill_in_save:
            os.kill(os.getpid(), signal.SIGKILL)  # the temporary file is written, the rename never happens
        real_replace(source, target)

    os.replace = replace_then_die
    Checkpoint.resume(to_save, folder)
    trainer.run(range(100), max_epochs=1)
    """
)


def _checkpoints(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".pt"))


@pytest.mark.slow
def test_n_saved_holds_across_killed_restarts(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    folder = tmp_path / "checkpoints"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = [(7, 0), (13, 12), (19, 0), (25, 0)]  # the second run dies while writing step 12
    for kill_at, kill_in_save in runs:
        result = subprocess.run(
            [sys.executable, str(script), str(folder), str(kill_at), str(kill_in_save)], env=env, timeout=120
        )
        assert result.returncode == -9
    assert _checkpoints(folder) == ["checkpoint_22.pt", "checkpoint_24.pt"]
    assert sorted(os.listdir(folder)) == ["checkpoint_22.pt", "checkpoint_24.pt"]  # no temporary file left


def _save_steps(folder: Path, steps: list[int], name: str = "model") -> None:
    for step in steps:
        torch.save({"weight": torch.ones(1, 2), "bias": torch.zeros(1)}, folder / f"{name}_{step}.pt")


def _run(checkpoint: Checkpoint, iterations: int, every: int = 2) -> Engine[None]:
    trainer: Engine[None] = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=every), checkpoint)
    trainer.run(range(iterations), max_epochs=1)
    return trainer


def test_a_new_checkpoint_adopts_its_files_and_only_those(tmp_path: Path) -> None:
    _save_steps(tmp_path, [2, 4, 6])
    unrelated = [
        "notes.txt",
        "model_final.pt",
        "model_2_copy.pt",
        "other_model_8.pt",
        "best_model_8.pt",
        "model_8.pt.bak",
        ".model_8.pt.tmp",
        ".notes.txt.0123456789ab.tmp",
    ]
    for name in unrelated:
        (tmp_path / name).write_bytes(b"user data")
    (tmp_path / ".model_6.pt.0123456789ab.tmp").write_bytes(b"half written")
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), n_saved=2)
    _run(checkpoint, iterations=8, every=8)
    assert sorted(os.listdir(tmp_path)) == sorted(["model_6.pt", "model_8.pt", *unrelated])
    assert [item.filename for item in checkpoint.saved] == ["model_6.pt", "model_8.pt"]


def test_adopted_files_are_ordered_by_their_step_not_their_names(tmp_path: Path) -> None:
    _save_steps(tmp_path, [9, 10, 100])
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), n_saved=3)
    _run(checkpoint, iterations=200, every=200)
    assert _checkpoints(tmp_path) == ["model_10.pt", "model_100.pt", "model_200.pt"]


def test_adoption_with_a_prefix_and_a_score(tmp_path: Path) -> None:
    for score in ("0.5000", "0.9000", "0.7000"):
        torch.save({"w": torch.ones(1)}, tmp_path / f"best_model_acc={score}.pt")
    (tmp_path / "model_acc=0.9900.pt").write_bytes(b"no prefix: not ours")
    model = nn.Linear(2, 1)
    checkpoint = ModelCheckpoint(
        tmp_path, "best", score_function=lambda engine: 0.8, score_name="acc", n_saved=2, require_empty=False
    )
    trainer: Engine[None] = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.COMPLETED, checkpoint, {"model": model})
    trainer.run([0], max_epochs=1)
    assert _checkpoints(tmp_path) == ["best_model_acc=0.8000.pt", "best_model_acc=0.9000.pt", "model_acc=0.9900.pt"]


def test_a_worse_score_than_the_adopted_files_is_not_saved(tmp_path: Path) -> None:
    for score in ("0.9000", "0.9500"):
        torch.save({"w": torch.ones(1)}, tmp_path / f"model_acc={score}.pt")
    checkpoint = Checkpoint(
        {"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), score_name="acc", n_saved=2
    )
    trainer: Engine[None] = Engine(lambda engine, batch: engine.state.metrics.update(acc=0.5))
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    with pytest.warns(UserWarning, match=r"model_acc=0\.9000\.pt"):
        trainer.run([0], max_epochs=1)
    assert _checkpoints(tmp_path) == ["model_acc=0.9000.pt", "model_acc=0.9500.pt"]


def test_a_custom_pattern_is_adopted_by_its_fields(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        (tmp_path / f"run-{step:04d}-model.ckpt.pt").write_bytes(b"x")
    (tmp_path / "run-abcd-model.ckpt.pt").write_bytes(b"user")
    checkpoint = Checkpoint(
        {"model": nn.Linear(2, 1)},
        DiskSaver(tmp_path, require_empty=False),
        n_saved=2,
        filename_pattern="run-{global_step:04d}-{name}.ckpt.{ext}",
    )
    _run(checkpoint, iterations=4, every=4)
    assert _checkpoints(tmp_path) == ["run-0003-model.ckpt.pt", "run-0004-model.ckpt.pt", "run-abcd-model.ckpt.pt"]


def test_files_already_known_from_the_checkpointer_state_are_not_doubled(tmp_path: Path) -> None:
    _save_steps(tmp_path, [2, 4])
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), n_saved=2)
    checkpoint.load_state_dict({"_saved": [(2, "model_2.pt"), (4, "model_4.pt")]})
    _run(checkpoint, iterations=6, every=6)
    assert [item.filename for item in checkpoint.saved] == ["model_4.pt", "model_6.pt"]
    assert _checkpoints(tmp_path) == ["model_4.pt", "model_6.pt"]


def test_n_saved_none_adopts_but_never_removes(tmp_path: Path) -> None:
    _save_steps(tmp_path, [2, 4])
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), n_saved=None)
    _run(checkpoint, iterations=6, every=6)
    assert _checkpoints(tmp_path) == ["model_2.pt", "model_4.pt", "model_6.pt"]
    assert len(checkpoint.saved) == 3


def test_step_named_files_are_not_taken_for_scores(tmp_path: Path) -> None:
    _save_steps(tmp_path, [203])
    checkpoint = Checkpoint(
        {"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), score_function=lambda e: 0.5
    )
    _run(checkpoint, iterations=1, every=1)
    assert _checkpoints(tmp_path) == ["model_0.5000.pt", "model_203.pt"]


def test_integer_scores_adopt_integer_named_files(tmp_path: Path) -> None:
    _save_steps(tmp_path, [-3, -1])
    checkpoint = Checkpoint(
        {"model": nn.Linear(2, 1)}, DiskSaver(tmp_path, require_empty=False), score_function=lambda e: -2, n_saved=2
    )
    _run(checkpoint, iterations=1, every=1)
    assert _checkpoints(tmp_path) == ["model_-1.pt", "model_-2.pt"]


def test_a_store_other_than_a_folder_adopts_nothing() -> None:
    calls: list[str] = []
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, lambda state, name: calls.append(name), n_saved=1)
    _run(checkpoint, iterations=4, every=2)
    assert calls == ["model_2.pt", "model_4.pt"]
