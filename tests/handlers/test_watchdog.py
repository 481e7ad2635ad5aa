"""The watchdog, used as a program would: a rank hung in its step is named with its stack and the process
exits with the watchdog's status; a slow but progressing one is left alone; bad settings are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cadence
from cadence import Engine
from cadence.handlers.watchdog import Watchdog

SRC = str(Path(cadence.__file__).resolve().parent.parent)
PROGRAM = """
import sys, time
from cadence import Engine
from cadence.handlers.watchdog import Watchdog
stall = float(sys.argv[1])
def step(engine, batch):
    if engine.state.iteration == 8:
        time.sleep(stall)  # a hung read, or a slow step
    time.sleep(0.01)
trainer = Engine(step)
Watchdog(floor=3.0, warmup=3).attach(trainer)
trainer.run(range(20))
print("finished")
"""


def run(tmp_path: Path, stall: float) -> subprocess.CompletedProcess[str]:
    (tmp_path / "program.py").write_text(PROGRAM)
    environment = {**os.environ, "PYTHONPATH": SRC}
    command = [sys.executable, str(tmp_path / "program.py"), str(stall)]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)


def test_a_hung_step_is_named_with_its_stack_and_the_process_exits_for_a_restart(tmp_path: Path) -> None:
    done = run(tmp_path, stall=60)
    assert done.returncode == 75, done.stderr
    assert "no progress for 3 s (after 7 iterations)" in done.stderr
    assert "rank 0 (host" in done.stderr and "alive but not progressing" in done.stderr
    assert 'program.py", line 8 in step' in done.stderr  # where it hung
    assert "finished" not in done.stdout


def test_a_slow_step_within_the_limit_does_not_trigger_it(tmp_path: Path) -> None:
    done = run(tmp_path, stall=1.0)
    assert done.returncode == 0 and "finished" in done.stdout, done.stderr
    assert "watchdog" not in done.stderr


def test_the_limit_follows_the_step_time_between_floor_and_cap() -> None:
    watchdog = Watchdog(factor=10, floor=2.0, cap=50.0, warmup=2)
    assert watchdog.limit() == 50.0  # before warm-up: the cap
    watchdog._step_times.extend([0.1, 0.1, 0.1])
    assert watchdog.limit() == 2.0  # 10 x 0.1 s is below the floor
    watchdog._step_times.extend([3.0] * 10)
    assert watchdog.limit() == 30.0
    watchdog._step_times.extend([100.0] * 20)
    assert watchdog.limit() == 50.0
    assert Watchdog(timeout=7).limit() == 7.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout"),
        ({"factor": -1}, "factor"),
        ({"floor": "60"}, "floor"),
        ({"floor": 10.0, "cap": 5.0}, "should not exceed cap"),
        ({"warmup": 0}, "warmup"),
        ({"exit_code": 0}, "exit_code"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Watchdog(**kwargs)


def test_attaching_twice_is_refused_and_detach_stops_it() -> None:
    trainer = Engine(lambda engine, batch: None)
    watchdog = Watchdog()
    watchdog.attach(trainer)
    with pytest.raises(RuntimeError, match="attached already"):
        watchdog.attach(trainer)
    watchdog.detach()
    trainer.run(range(3))
    assert watchdog.progress == 0  # no longer counting


def test_the_watchdog_does_not_swallow_the_runs_errors() -> None:
    """It stops its thread when the run fails without being an ``EXCEPTION_RAISED`` handler, which would make
    ``run()`` return instead of raising (Ignite's rule for those handlers)."""

    def step(engine: Engine[Any], batch: int) -> None:
        if batch == 2:
            raise ValueError("bad batch")

    trainer = Engine(step)
    watchdog = Watchdog(floor=30.0)
    watchdog.attach(trainer)
    with pytest.raises(ValueError, match="bad batch"):
        trainer.run(range(5))
    assert not watchdog._watching


def test_a_peer_that_beat_once_is_known_by_pid_and_host_before_our_next_publish() -> None:
    # Rank 1's first round ran before rank 0's first beat. If rank 0 freezes next (with the store it hosts),
    # rank 1 may never publish again; it must still have read rank 0's pid and host, to name and kill it.
    import time

    from torch.distributed import HashStore

    from cadence.distributed import hostname
    from cadence.handlers._heartbeats import Heartbeats

    store = HashStore()
    one = Heartbeats(store, rank=1, world_size=2)
    before = one.answered_at
    one.publish(0, False)
    deadline = time.monotonic() + 10
    while one.answered_at == before and time.monotonic() < deadline:  # rank 1's first round is done
        time.sleep(0.01)
    assert 0 not in one.peers
    Heartbeats(store, rank=0, world_size=2).publish(30, False)  # rank 0's first (and last) beat
    while 0 not in one.peers and time.monotonic() < deadline:
        time.sleep(0.01)
    described = one.describe(0, "stopped")
    assert described.startswith(f"rank 0 (host {hostname()}, pid {os.getpid()}): stopped"), described
