"""Preemption: a SIGTERM/SIGUSR1 ends the run after the current iteration with one checkpoint, on every rank."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import distributed as idist
from cadence.engine import Engine, Events
from cadence.handlers import Checkpoint, Preempted, Preemption


def _trainer(signal_at: int | None, number: int = signal.SIGTERM) -> tuple[Engine[Any], list[int], list[int]]:
    steps: list[int] = []
    saved: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if engine.state.iteration == signal_at:
            os.kill(os.getpid(), number)  # arrives in the middle of the step: the step still completes
        steps.append(batch)

    trainer: Engine[Any] = Engine(step)
    Preemption(lambda engine: saved.append(engine.state.iteration)).attach(trainer)
    return trainer, steps, saved


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGUSR1])
def test_a_signal_finishes_the_iteration_saves_once_and_exits_with_128_plus_the_signal(number: int) -> None:
    previous = signal.getsignal(number)
    trainer, steps, saved = _trainer(4, number)
    with pytest.raises(Preempted) as stop:
        trainer.run(range(10), max_epochs=2)
    assert stop.value.code == 128 + number and stop.value.iteration == 4 and stop.value.signal == number
    assert steps == [0, 1, 2, 3] and saved == [4] and trainer.state.iteration == 4
    assert signal.getsignal(number) == previous  # given back


def test_the_message_is_not_glued_to_an_open_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from cadence.handlers import ProgressBar

    trainer, _, _ = _trainer(3)
    ProgressBar(file=sys.stderr, disable=False).attach(trainer)  # updated before Preemption's check, left open
    with pytest.raises(Preempted):
        trainer.run(range(10))
    message = next(line for line in capsys.readouterr().err.split("\r") if "SIGTERM received" in line)
    assert message.lstrip("\x1b[A ").startswith("cadence: SIGTERM received: stopped after iteration 3")


def test_a_resumed_run_from_the_preemption_checkpoint_continues_exactly_there(tmp_path: Path) -> None:
    model = torch.nn.Linear(1, 1)
    seen: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if batch == 6 and not seen.count(6):
            os.kill(os.getpid(), signal.SIGTERM)
        seen.append(batch)

    trainer: Engine[Any] = Engine(step)
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, tmp_path)
    Preemption(checkpoint).attach(trainer)
    with pytest.raises(Preempted):
        trainer.run(range(10))
    resumed: Engine[Any] = Engine(lambda engine, batch: seen.append(batch))
    assert Checkpoint.resume({"model": model, "trainer": resumed}, tmp_path).name == "checkpoint_7.pt"
    resumed.run(range(10))
    assert seen == list(range(10))


def test_without_a_signal_nothing_happens_and_the_handlers_are_given_back() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    trainer, steps, saved = _trainer(None)
    trainer.run(range(5))
    assert steps == list(range(5)) and saved == [] and signal.getsignal(signal.SIGTERM) == previous


def test_check_every_n_iterations() -> None:
    saved: list[int] = []
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    trainer.add_event_handler(
        Events.ITERATION_STARTED(once=2), lambda engine: os.kill(os.getpid(), signal.SIGTERM)
    )  # fmt: skip
    Preemption(lambda engine: saved.append(engine.state.iteration), check_every=5, exit_code=0).attach(trainer)
    with pytest.raises(Preempted) as stop:
        trainer.run(range(10))
    assert saved == [5] and stop.value.code == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"checkpoint": "not callable"}, TypeError, "should be callable"),
        ({"signals": ()}, ValueError, "non-empty sequence"),
        ({"signals": (9999,)}, ValueError, "signal numbers"),
        ({"signals": (signal.SIGKILL,)}, ValueError, "cannot be caught"),
        ({"signals": (signal.SIGINT,)}, ValueError, "Ctrl-C"),
        ({"check_every": 0}, ValueError, "positive integer"),
        ({"check_every": 1.5}, ValueError, "positive integer"),
        ({"exit_code": "143"}, TypeError, "exit_code"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    arguments: dict[str, Any] = {"checkpoint": lambda engine: None, **kwargs}
    with pytest.raises(error, match=message):
        Preemption(**arguments)


def test_attaching_twice_is_refused_and_detach_gives_the_signals_back() -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    preemption = Preemption(lambda engine: None)
    preemption.attach(trainer)
    with pytest.raises(RuntimeError, match="attached already"):
        preemption.attach(trainer)
    preemption.detach()
    preemption.attach(trainer)  # again after a detach
    trainer.run(range(2))


def preempted_job(local_rank: int, folder: str) -> None:
    """Only rank 1 gets the signal, at iteration 5: both ranks must stop after the same iteration."""
    saved: list[int] = []
    steps: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if idist.get_rank() == 1 and engine.state.iteration == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        steps.append(batch)

    trainer: Engine[Any] = Engine(step)
    Preemption(lambda engine: saved.append(engine.state.iteration)).attach(trainer)
    try:
        trainer.run(range(20))
    finally:
        Path(folder, f"rank{idist.get_rank()}.json").write_text(json.dumps({"saved": saved, "steps": len(steps)}))


@pytest.mark.slow
def test_two_ranks_agree_to_stop_after_the_same_iteration(tmp_path: Path) -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel, pytest.raises(SystemExit) as stop:
        parallel.run(preempted_job, str(tmp_path))
    assert stop.value.code == 143
    for rank in (0, 1):
        assert json.loads((tmp_path / f"rank{rank}.json").read_text()) == {"saved": [5], "steps": 5}


def test_an_asynchronous_checkpoint_is_complete_before_the_exit(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 3)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint({"model": model}, tmp_path, async_save=True)
    trainer.add_event_handler(
        Events.ITERATION_STARTED(once=4), lambda engine: os.kill(os.getpid(), signal.SIGTERM)
    )  # fmt: skip
    Preemption(checkpoint).attach(trainer)
    with pytest.raises(Preempted):
        trainer.run(range(10))
    assert checkpoint.last_checkpoint is not None and checkpoint.last_checkpoint.name == "model_4.pt"
    assert torch.equal(torch.load(checkpoint.last_checkpoint, weights_only=True)["weight"], model.weight)


def _stand_in_scontrol(folder: Path, status: int = 0) -> Path:
    """An ``scontrol`` on PATH that records its arguments (and fails with ``status`` when asked to)."""
    record = folder / "scontrol-calls.txt"
    script = folder / "scontrol"
    script.write_text(f'#!/bin/sh\necho "$@" >> {record}\necho "refused by the stand-in" >&2\nexit {status}\n')
    script.chmod(0o755)
    return record


def _preempted_with_requeue(monkeypatch: pytest.MonkeyPatch, folder: Path, **environment: str) -> Preempted:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    saved: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if engine.state.iteration == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    trainer: Engine[Any] = Engine(step)
    Preemption(lambda engine: saved.append(engine.state.iteration), requeue_slurm_job=True).attach(trainer)
    with pytest.raises(Preempted) as stop:
        trainer.run(range(10))
    assert saved == [3]  # the checkpoint came first
    return stop.value


def test_a_preempted_slurm_job_requeues_itself_once_after_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _stand_in_scontrol(tmp_path)
    stop = _preempted_with_requeue(monkeypatch, tmp_path, SLURM_JOB_ID="4242")
    assert stop.code == 143
    assert record.read_text() == "requeue 4242\n"
    assert "SLURM job 4242 requeued (scontrol requeue 4242)" in capsys.readouterr().err


def test_an_array_task_is_requeued_by_its_array_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _stand_in_scontrol(tmp_path)
    _preempted_with_requeue(
        monkeypatch, tmp_path, SLURM_JOB_ID="7001", SLURM_ARRAY_JOB_ID="7000", SLURM_ARRAY_TASK_ID="3"
    )
    assert record.read_text() == "requeue 7000_3\n"


def test_a_refused_requeue_is_a_warning_and_the_run_still_stops_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stand_in_scontrol(tmp_path, status=1)
    with pytest.warns(UserWarning, match=r"Could not requeue SLURM job 4242 .*refused by the stand-in"):
        stop = _preempted_with_requeue(monkeypatch, tmp_path, SLURM_JOB_ID="4242")
    assert stop.code == 143 and "was NOT requeued" in capsys.readouterr().err


def test_outside_slurm_requeue_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _stand_in_scontrol(tmp_path)
    _preempted_with_requeue(monkeypatch, tmp_path)
    assert not record.exists()
    with pytest.raises(TypeError, match="requeue_slurm_job"):
        Preemption(lambda engine: None, requeue_slurm_job="yes")  # type: ignore[arg-type]
