"""TorchProfiler, used as a program would: traces of the scheduled iterations, of iterations asked for by a
file or a signal while running, per rank; nothing left attached between windows; bad settings refused."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

import cadence.distributed as idist
from cadence import Engine
from cadence.handlers.profiler import TorchProfiler


def matmul_step(engine: Engine[Any], batch: Any) -> torch.Tensor:
    return torch.ones(16, 16) @ torch.ones(16, 16)


def traces(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".pt.trace.json"))


def test_scheduled_windows_write_one_trace_each_named_by_rank_and_recorded_iterations(tmp_path: Path) -> None:
    engine = Engine(matmul_step)
    profiler = TorchProfiler(tmp_path, wait=1, warmup=1, active=2, repeat=2, trigger_file=None)
    profiler.attach(engine)
    engine.run(range(12))
    # windows start after 1 iteration of wait, then every wait + warmup + active = 4: warm-up 2, record 3-4; 6, 7-8
    assert traces(tmp_path) == ["rank0.iter3-4.pt.trace.json", "rank0.iter7-8.pt.trace.json"]
    assert profiler.traces == [tmp_path / name for name in traces(tmp_path)]
    events = json.loads((tmp_path / "rank0.iter3-4.pt.trace.json").read_text())["traceEvents"]
    assert sum(event.get("name") == "aten::mm" for event in events) == 2  # the two recorded iterations, not 3
    assert not engine.has_event_handler(profiler._step)  # nothing per iteration once the windows are over
    assert not [name for name in os.listdir(tmp_path) if name not in traces(tmp_path)]  # no temporary files


def test_repeat_zero_profiles_until_the_run_ends_and_a_cut_window_records_what_ran(tmp_path: Path) -> None:
    engine = Engine(matmul_step)
    TorchProfiler(tmp_path, wait=2, warmup=0, active=3, repeat=0, trigger_file=None).attach(engine)
    with pytest.warns(UserWarning, match="won't be using warmup"):  # torch's own warning, for warmup=0
        engine.run(range(14))
    # period 5 from iteration 3: 3-5, 8-10, then 13-14 cut by the end of the run
    assert traces(tmp_path) == sorted(f"rank0.iter{a}-{b}.pt.trace.json" for a, b in ((3, 5), (8, 10), (13, 14)))


def test_windows_sit_on_the_engines_iteration_count_so_a_resumed_run_profiles_the_same_ones(tmp_path: Path) -> None:
    engine = Engine(matmul_step)
    TorchProfiler(tmp_path, wait=1, warmup=1, active=2, repeat=2, trigger_file=None).attach(engine)
    engine.load_state_dict({"iteration": 4, "epoch_length": 12, "max_epochs": 1})  # as after a resume at 4
    engine.run(range(12))
    assert traces(tmp_path) == ["rank0.iter7-8.pt.trace.json"]  # the window of iterations 3-4 ran before


def test_touching_the_trigger_file_asks_for_a_window_at_the_next_poll(tmp_path: Path) -> None:
    trigger = tmp_path / "PROFILE"
    trigger.write_text("left by an earlier run")  # asks for nothing: only a new modification time does

    def step(engine: Engine[Any], batch: Any) -> torch.Tensor:
        if engine.state.iteration in (7, 23):
            trigger.touch()
            os.utime(trigger, ns=(engine.state.iteration * 10**9,) * 2)  # a new time, even on a coarse clock
        return matmul_step(engine, batch)

    engine = Engine(step)
    TorchProfiler(tmp_path, warmup=1, active=3, scheduled=False, poll_every=5).attach(engine)
    engine.run(range(40))
    # seen at the poll after 10 and 25: a warm-up iteration, then 3 recorded
    assert traces(tmp_path) == ["rank0.iter12-14.pt.trace.json", "rank0.iter27-29.pt.trace.json"]


def test_a_signal_asks_for_a_window_and_its_handler_is_given_back_when_the_run_ends(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGUSR2)

    def step(engine: Engine[Any], batch: Any) -> torch.Tensor:
        if engine.state.iteration == 3:
            os.kill(os.getpid(), signal.SIGUSR2)
        return matmul_step(engine, batch)

    engine = Engine(step)
    TorchProfiler(
        tmp_path, warmup=0, active=2, scheduled=False, trigger_file=None, trigger_signal=signal.SIGUSR2, poll_every=4
    ).attach(engine)
    engine.run(range(10))
    assert traces(tmp_path) == ["rank0.iter5-6.pt.trace.json"]
    assert signal.getsignal(signal.SIGUSR2) == before


def test_an_error_inside_a_window_still_writes_what_was_recorded(tmp_path: Path) -> None:
    def step(engine: Engine[Any], batch: Any) -> torch.Tensor:
        if engine.state.iteration == 5:
            raise RuntimeError("boom")
        return matmul_step(engine, batch)

    engine = Engine(step)
    profiler = TorchProfiler(tmp_path, wait=1, warmup=1, active=5, trigger_file=None)
    profiler.attach(engine)
    with pytest.raises(RuntimeError, match="boom"):
        engine.run(range(10))
    assert traces(tmp_path) == ["rank0.iter3-4.pt.trace.json"]
    assert not engine.has_event_handler(profiler._step)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"active": 0}, ValueError, "active should be an integer >= 1"),
        ({"wait": -1}, ValueError, "wait should be"),
        ({"repeat": "2"}, ValueError, "repeat should be"),
        ({"warmup": True}, ValueError, "warmup should be"),
        ({"trigger_file": "a/b"}, ValueError, "trigger_file should be a file name"),
        ({"trigger_signal": 999}, ValueError, "trigger_signal should be a signal number"),
        ({"schedule": None}, TypeError, "sets torch.profiler.profile's schedule itself"),
        ({"scheduled": "yes"}, TypeError, "scheduled should be True or False"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        TorchProfiler(tmp_path, **kwargs)


def test_bad_folder_double_attach_and_a_signal_from_a_thread_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="output_dir should be a path"):
        TorchProfiler(3)  # type: ignore[arg-type]
    engine = Engine(matmul_step)
    profiler = TorchProfiler(tmp_path)
    profiler.attach(engine)
    with pytest.raises(RuntimeError, match="attached already"):
        profiler.attach(engine)
    profiler.detach()
    engine.run(range(8))
    assert traces(tmp_path) == []
    errors: list[BaseException] = []

    def attach_from_a_thread() -> None:
        try:
            TorchProfiler(tmp_path, trigger_signal=signal.SIGUSR2).attach(Engine(matmul_step))
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=attach_from_a_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "main thread" in str(errors[0])


def _profile_on_each_rank(local_rank: int, folder: str) -> None:
    engine = Engine(matmul_step)
    TorchProfiler(folder, wait=1, warmup=1, active=2, trigger_file=None).attach(engine)
    engine.run(range(6))


@pytest.mark.slow
def test_each_rank_writes_its_own_trace(tmp_path: Path) -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        parallel.run(_profile_on_each_rank, str(tmp_path))
    assert traces(tmp_path) == ["rank0.iter3-4.pt.trace.json", "rank1.iter3-4.pt.trace.json"]
