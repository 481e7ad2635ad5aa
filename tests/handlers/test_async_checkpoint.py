"""Checkpoint(async_save=True): the state is snapshotted on the loop's thread and written by a writer thread."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import distributed as idist
from cadence.engine import Engine, Events
from cadence.handlers import BaseSaveHandler, Checkpoint, DiskSaver, ModelCheckpoint
from cadence.handlers._async_save import StateSnapshot
from cadence.handlers._loading import FORMAT_KEY
from cadence.handlers.checkpoint import CheckpointEvents


def _assert_same(left: Any, right: Any, path: str = "") -> None:
    """The same tree, with torch.equal tensors of the same dtype (and the same OrderedDict metadata)."""
    assert type(left) is type(right), path
    if isinstance(left, torch.Tensor):
        assert left.dtype == right.dtype and torch.equal(left, right), path
    elif isinstance(left, Mapping):
        assert list(left) == list(right), path
        assert getattr(left, "_metadata", None) == getattr(right, "_metadata", None), path
        for key in left:
            _assert_same(left[key], right[key], f"{path}/{key}")
    elif isinstance(left, list | tuple):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            _assert_same(a, b, f"{path}[{index}]")
    else:
        assert left == right, path


def _training(folder: Path, *, async_save: bool, n_saved: int | None = 2, every: int = 3) -> Checkpoint:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    data = [(torch.randn(4, 8), torch.randn(4, 2)) for _ in range(10)]

    def step(engine: Engine[Any], batch: tuple[torch.Tensor, torch.Tensor]) -> float:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer: Engine[Any] = Engine(step)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    checkpoint = Checkpoint(to_save, folder, n_saved=n_saved, async_save=async_save)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=every), checkpoint)
    trainer.run(data, max_epochs=2)
    return checkpoint


def test_async_files_hold_exactly_what_sync_files_hold(tmp_path: Path) -> None:
    sync = _training(tmp_path / "sync", async_save=False, n_saved=None)
    background = _training(tmp_path / "async", async_save=True, n_saved=None)
    names = sorted(os.listdir(tmp_path / "sync"))
    assert names == sorted(os.listdir(tmp_path / "async")) and len(names) == 6
    for name in names:
        _assert_same(
            torch.load(tmp_path / "sync" / name, weights_only=True),
            torch.load(tmp_path / "async" / name, weights_only=True),
        )
    assert [item.filename for item in sync.saved] == [item.filename for item in background.saved]


def test_snapshot_keeps_containers_aliases_and_odd_tensors() -> None:
    shared = torch.arange(6.0)
    state = collections.OrderedDict(a=shared, b=shared, view=shared.view(2, 3), t=shared.view(2, 3).t())
    state._metadata = {"": {"version": 1}}  # type: ignore[attr-defined]  # as nn.Module.state_dict sets it
    parameter = nn.Parameter(torch.ones(2))
    tree: dict[str, Any] = {
        "state": state,
        "step": 3,
        "groups": [{"lr": 0.1, "params": [0]}],
        "param": parameter,
        "none": None,
    }
    snapshots = StateSnapshot()
    first = snapshots.take(tree).state
    _assert_same(first, tree)
    assert first["state"]["a"] is first["state"]["b"]  # one tensor twice stays one tensor
    assert first["state"]["t"].stride() == (1, 3)  # the layout is kept
    assert type(first["param"]) is nn.Parameter and first["param"] is not parameter
    assert first["groups"] is not tree["groups"]  # mutable values are copies too
    shared.add_(1)
    assert first["state"]["a"][0].item() == 0.0
    second = snapshots.take(tree).state
    assert second["state"]["view"] is first["state"]["view"]  # the buffer is reused
    assert second["state"]["a"][0].item() == 1.0
    tree["state"]["view"] = torch.zeros(3, 2)
    assert snapshots.take(tree).state["state"]["view"] is not first["state"]["view"]  # another shape, a new buffer


class _GatedSaver(DiskSaver):
    """A DiskSaver whose background writes wait until the test opens the gate; records how many overlap."""

    def __init__(self, dirname: Path, **kwargs: Any) -> None:
        super().__init__(dirname, require_empty=False, **kwargs)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.writes: list[str] = []

    def save_in_background(self, checkpoint: Any, filename: str, metadata: Any = None) -> None:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            assert self.gate.wait(30)
            super().save_in_background(checkpoint, filename, metadata)
            self.writes.append(filename)
        finally:
            with self.lock:
                self.active -= 1


def test_a_mutation_right_after_save_does_not_reach_the_file(tmp_path: Path) -> None:
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    expected = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    expected = torch.load(_roundtrip(tmp_path, expected), weights_only=True)
    saver = _GatedSaver(tmp_path / "checkpoints")
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer}, saver, async_save=True)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    checkpoint(trainer)
    with torch.no_grad():
        model.weight.add_(1.0)
    optimizer.step()  # changes the moments and the step in place
    assert checkpoint.last_checkpoint is None  # not complete yet
    saver.gate.set()
    checkpoint.wait()
    saved = torch.load(saver.dirname / "checkpoint_0.pt", weights_only=True)
    del saved[FORMAT_KEY]
    _assert_same(saved, expected)


def _roundtrip(folder: Path, state: Any) -> Path:
    path = folder / "expected.pt"
    torch.save(state, path)
    return path


def test_at_most_one_save_in_flight_and_retention_after_completion(tmp_path: Path) -> None:
    saver = _GatedSaver(tmp_path)
    model = nn.Linear(2, 1)
    checkpoint = Checkpoint({"model": model}, saver, n_saved=1, async_save=True)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    saved_events: list[tuple[int, list[str]]] = []
    trainer.register_events(*CheckpointEvents)
    trainer.add_event_handler(
        CheckpointEvents.SAVED_CHECKPOINT,
        lambda e: saved_events.append((e.state.iteration, sorted(os.listdir(tmp_path)))),
    )
    trainer.state.iteration = 1
    saver.gate.set()
    checkpoint(trainer)
    checkpoint.wait()
    assert saved_events == [(1, ["model_1.pt"])]
    saver.gate.clear()
    trainer.state.iteration = 2
    checkpoint(trainer)
    time.sleep(0.1)
    # the write of step 2 waits at the gate: step 1 is still the kept (and listed) file
    assert os.listdir(tmp_path) == ["model_1.pt"] and checkpoint.last_checkpoint == tmp_path / "model_1.pt"
    trainer.state.iteration = 3
    started = threading.Event()

    def third_save() -> None:
        started.set()
        checkpoint(trainer)

    third = threading.Thread(target=third_save)
    third.start()
    assert started.wait(5)
    time.sleep(0.2)
    assert third.is_alive()  # the third save waits for the second to finish
    saver.gate.set()
    third.join(10)
    checkpoint.wait()
    assert saver.most_active == 1 and saver.writes == ["model_1.pt", "model_2.pt", "model_3.pt"]
    assert os.listdir(tmp_path) == ["model_3.pt"] and checkpoint.last_checkpoint == tmp_path / "model_3.pt"
    assert [iteration for iteration, _ in saved_events] == [1, 3, 3]  # fired on the loop's thread, when seen done


def test_n_saved_retention_with_async_saves(tmp_path: Path) -> None:
    checkpoint = _training(tmp_path, async_save=True, n_saved=2, every=2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_18.pt", "checkpoint_20.pt"]
    assert [item.filename for item in checkpoint.saved] == ["checkpoint_18.pt", "checkpoint_20.pt"]
    assert checkpoint.last_checkpoint == tmp_path / "checkpoint_20.pt"


def test_best_n_by_score_with_async_saves(tmp_path: Path) -> None:
    scores = iter([0.5, 0.9, 0.1, 0.7, 0.95])
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint(
        {"model": nn.Linear(2, 1)}, tmp_path, score_function=lambda e: next(scores), n_saved=2, async_save=True
    )
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    trainer.run(range(5))
    assert sorted(os.listdir(tmp_path)) == ["model_0.9000.pt", "model_0.9500.pt"]


class _FailingSaver(BaseSaveHandler):
    supports_async_save = True  # a class attribute is how a handler says so

    def __init__(self, fail_on: set[str]) -> None:
        self.fail_on = fail_on
        self.files: dict[str, Any] = {}
        self.removed: list[str] = []

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        raise AssertionError("an async checkpoint saves through save_in_background")

    def save_in_background(self, checkpoint: Any, filename: str, metadata: Any = None) -> None:
        if filename in self.fail_on:
            raise OSError(28, f"No space left on device: {filename}")
        self.files[filename] = checkpoint

    def remove(self, filename: str) -> None:
        self.removed.append(filename)
        del self.files[filename]


def _failing_run(fail_on: set[str]) -> tuple[Engine[Any], Checkpoint, _FailingSaver]:
    saver = _FailingSaver(fail_on)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, saver, n_saved=1, async_save=True)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    return trainer, checkpoint, saver


def test_a_failed_background_save_is_raised_at_the_next_save(tmp_path: Path) -> None:
    trainer, checkpoint, saver = _failing_run({"model_2.pt"})
    with pytest.raises(OSError, match=r"No space left on device: model_2\.pt"):
        trainer.run(range(5))
    assert trainer.state.iteration == 3  # raised by the save of iteration 3, before it saved anything
    assert list(saver.files) == ["model_1.pt"] and saver.removed == []  # the kept file was not removed
    assert checkpoint.last_checkpoint == "model_1.pt"
    checkpoint.wait()  # raised once


def test_a_failed_background_save_is_raised_by_wait_and_at_the_run_end() -> None:
    trainer, checkpoint, saver = _failing_run({"model_0.pt"})
    checkpoint(trainer)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.wait()
    trainer, checkpoint, saver = _failing_run({"model_3.pt"})
    with pytest.raises(OSError, match=r"No space left on device: model_3\.pt"):
        trainer.run(range(3))  # the last save fails after the loop is over: COMPLETED raises it
    assert list(saver.files) == ["model_2.pt"]


def test_a_real_write_error_comes_out_of_the_run(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, folder, async_save=True)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda: folder.rename(tmp_path / "moved"))
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    with pytest.raises(OSError, match="Cannot write checkpoint"):
        trainer.run(range(4))
    assert os.listdir(tmp_path / "moved") == []


@pytest.mark.slow
def test_an_error_nobody_raised_is_printed_at_exit(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import torch
        from cadence import Engine
        from cadence.handlers import Checkpoint
        folder = sys.argv[1]
        checkpoint = Checkpoint({"model": torch.nn.Linear(2, 1)}, folder, async_save=True)
        os.rmdir(folder)
        checkpoint(Engine(lambda e, b: None))  # the program ends with the save in flight
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", "import os, sys\n" + script, str(tmp_path / "gone")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stderr
    assert "the background save of DiskSaver(" in result.stderr and "Cannot write checkpoint" in result.stderr


def test_saves_at_the_run_end_are_complete_when_run_returns(tmp_path: Path) -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    events: list[int] = []
    trainer.register_events(*CheckpointEvents)
    trainer.add_event_handler(CheckpointEvents.SAVED_CHECKPOINT, lambda e: events.append(e.state.iteration))
    every = Checkpoint({"model": nn.Linear(2, 1)}, tmp_path / "every", async_save=True, n_saved=None)
    final = Checkpoint({"model": nn.Linear(2, 1)}, tmp_path / "final", async_save=True)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), every)
    trainer.add_event_handler(Events.COMPLETED, final)
    trainer.run(range(4))
    assert sorted(os.listdir(tmp_path / "every")) == ["model_2.pt", "model_4.pt"]
    assert os.listdir(tmp_path / "final") == ["model_4.pt"]
    assert sorted(events) == [4, 4, 4]
    assert every.last_checkpoint == tmp_path / "every" / "model_4.pt"


def test_exact_resume_from_async_checkpoints(tmp_path: Path) -> None:
    def run(folder: Path, crash_at: int | None) -> nn.Module:
        torch.manual_seed(0)
        model = nn.Linear(4, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
        data = [torch.randn(8, 4) for _ in range(6)]

        def step(engine: Engine[Any], batch: torch.Tensor) -> None:
            if engine.state.iteration == crash_at:
                raise RuntimeError("crash")
            optimizer.zero_grad()
            model(batch).pow(2).mean().backward()
            optimizer.step()

        trainer: Engine[Any] = Engine(step)
        to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
        checkpoint = Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=2, async_save=True)
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=4), checkpoint)
        Checkpoint.resume(to_save, folder)
        try:
            trainer.run(data, max_epochs=3)
        except RuntimeError:
            checkpoint.wait()
        return model

    uninterrupted = run(tmp_path / "a", None)
    run(tmp_path / "b", crash_at=11)  # dies in iteration 11: checkpoint_8 is the last one
    resumed = run(tmp_path / "b", None)
    for a, b in zip(uninterrupted.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    from cadence import Engine, Events
    from cadence.handlers import Checkpoint, DiskSaver

    folder, hang_in, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

    class HangingSaver(DiskSaver):
        def _save_func(self, checkpoint, path, save):
            def write(obj, file, **kwargs):
                save(obj, file, **kwargs)
                if path.name == hang_in:
                    file.flush()
                    print("WRITING", flush=True)
                    time.sleep(600)  # the temporary file is written; the parent kills us before the rename
            super()._save_func(checkpoint, path, write)

    torch.manual_seed(0)
    model = torch.nn.Linear(16, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    data = [torch.randn(8, 16) for _ in range(5)]

    def step(engine, batch):
        optimizer.zero_grad()
        model(batch).pow(2).mean().backward()
        optimizer.step()

    trainer = Engine(step)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    resumed = Checkpoint.resume(to_save, folder)
    print("RESUMED", resumed.name if resumed else None, flush=True)
    saver = HangingSaver(folder, require_empty=False)
    checkpoint = Checkpoint(to_save, saver, n_saved=2, async_save=True)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=3), checkpoint)
    trainer.run(data, max_epochs=4)
    torch.save(model.state_dict(), out)
    """
)


@pytest.mark.slow
def test_a_kill_during_a_background_write_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(KILLED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}

    def start(folder: Path, hang_in: str, out: str) -> subprocess.Popen[str]:
        command = [sys.executable, str(script), str(folder), hang_in, str(tmp_path / out)]
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    uninterrupted = start(tmp_path / "a", "none", "a.pt")
    killed = start(tmp_path / "b", "checkpoint_9.pt", "never.pt")
    assert killed.stdout is not None
    lines = [killed.stdout.readline() for _ in range(2)]
    assert lines == ["RESUMED None\n", "WRITING\n"], killed.stderr.read() if killed.stderr else ""
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    temporary, *names = sorted(os.listdir(tmp_path / "b"))
    assert names == ["checkpoint_3.pt", "checkpoint_6.pt"]
    assert temporary.startswith(".checkpoint_9.pt.")  # the unfinished write, never renamed
    model = nn.Linear(16, 4)
    assert Checkpoint.resume({"model": model}, tmp_path / "b", strict=False) == tmp_path / "b" / "checkpoint_6.pt"
    output, errors = uninterrupted.communicate(timeout=120)
    assert uninterrupted.returncode == 0, errors
    resumed = start(tmp_path / "b", "none", "b.pt")
    output, errors = resumed.communicate(timeout=120)
    assert resumed.returncode == 0 and output.startswith("RESUMED checkpoint_6.pt"), errors
    assert sorted(os.listdir(tmp_path / "b")) == ["checkpoint_15.pt", "checkpoint_18.pt"]  # no temporary file left
    final_a = torch.load(tmp_path / "a.pt", weights_only=True)
    final_b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert final_a.keys() == final_b.keys() and all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def two_ranks_job(local_rank: int, folder: str) -> None:
    model = nn.Linear(2, 1)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    saver = DiskSaver(folder, require_empty=False, wait_all_ranks=True)
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(every=2), Checkpoint({"model": model}, saver, n_saved=2, async_save=True)
    )
    seen: list[list[str]] = []
    trainer.register_events(*CheckpointEvents)
    trainer.add_event_handler(
        CheckpointEvents.SAVED_CHECKPOINT, lambda: seen.append([p.name for p in Path(folder).glob("*.pt")])
    )
    trainer.run(range(6))
    Path(folder, f"rank{idist.get_rank()}.json").write_text(json.dumps(seen))


@pytest.mark.slow
def test_two_ranks_rank_zero_writes_and_all_wait_at_completion(tmp_path: Path) -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        parallel.run(two_ranks_job, str(tmp_path))
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"rank{rank}.json").read_text())
        # each rank saw the file complete at its event (a barrier away from rank 0's write)
        assert [f"model_{step}.pt" in names for step, names in zip((2, 4, 6), seen, strict=True)] == [True] * 3
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["model_4.pt", "model_6.pt"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_state_is_copied_to_pinned_buffers(tmp_path: Path) -> None:
    model = nn.Linear(64, 64).cuda()
    checkpoint = Checkpoint({"model": model}, tmp_path, async_save=True)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    expected = {key: value.cpu() for key, value in model.state_dict().items()}
    checkpoint(trainer)
    with torch.no_grad():
        model.weight.mul_(2)
    checkpoint.wait()
    saved = torch.load(tmp_path / "model_0.pt", weights_only=True)
    assert all(saved[key].device.type == "cpu" and torch.equal(saved[key], expected[key]) for key in expected)


class _NoAsync(BaseSaveHandler):
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        pass

    def remove(self, filename: str) -> None:
        pass


class _OwnWrite(DiskSaver):
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        pass


@pytest.mark.parametrize(
    ("make_handler", "match"),
    [
        (lambda folder: lambda checkpoint, filename: None, r"async_save=True needs a save handler .* \(function\)"),
        (lambda folder: _NoAsync(), r"got .*_NoAsync.*implement save_in_background and set supports_async_save = True"),
        (_OwnWrite, r"_OwnWrite.*Give a folder or a DiskSaver"),
    ],
)
def test_a_save_handler_that_cannot_save_in_the_background_is_refused(
    tmp_path: Path, make_handler: Any, match: str
) -> None:
    save_handler = make_handler(tmp_path)
    with pytest.raises(TypeError, match=match):
        Checkpoint({"model": nn.Linear(2, 1)}, save_handler, async_save=True)
    Checkpoint({"model": nn.Linear(2, 1)}, save_handler)  # synchronous saves are fine


def test_bad_async_save_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="async_save should be True or False, got 'yes'"):
        Checkpoint({"model": nn.Linear(2, 1)}, tmp_path, async_save="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async_save should be True or False, got 1"):
        ModelCheckpoint(tmp_path, "run", async_save=1)  # type: ignore[arg-type]


def test_model_checkpoint_saves_in_the_background(tmp_path: Path) -> None:
    handler = ModelCheckpoint(tmp_path, "run", n_saved=2, async_save=True)
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, handler, {"model": nn.Linear(2, 1)})
    trainer.run([0], max_epochs=3)
    assert sorted(os.listdir(tmp_path)) == ["run_model_2.pt", "run_model_3.pt"]
    assert handler.last_checkpoint == tmp_path / "run_model_3.pt"


def test_wait_on_a_synchronous_checkpoint_does_nothing(tmp_path: Path) -> None:
    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, tmp_path)
    checkpoint.wait()
    checkpoint(Engine(lambda engine, batch: None))
    checkpoint.wait()
    assert os.listdir(tmp_path) == ["model_0.pt"]
