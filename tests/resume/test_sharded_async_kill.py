"""SIGKILL during asynchronous sharded saves loses nothing: every published folder is complete and loads,
the newest is resumed, and the next run's first save clears the interrupted save's temporary folder."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cadence.handlers import Checkpoint
from cadence.handlers._discovery import step_in_name
from cadence.handlers.sharded import read_metadata
from tests.resume import sharded_async_job as job

pytestmark = pytest.mark.slow


def start(folder: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.resume.sharded_async_job", str(folder)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after_saves(folder: Path, saves: int, delay: float) -> None:
    process = start(folder)
    assert process.stdout is not None
    for _ in range(saves):
        line = process.stdout.readline()
        assert line.startswith("saved"), line + (process.stderr.read() if process.stderr else "")
    time.sleep(delay)  # somewhere in the next saves: staging, writing, publishing, removing
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_killed_anywhere_in_asynchronous_sharded_saves_the_newest_complete_checkpoint_resumes(tmp_path: Path) -> None:
    rng = random.Random(0)
    steps = []
    for _ in range(3):
        kill_after_saves(tmp_path, saves=2, delay=rng.uniform(0.0, 0.6))
        published = sorted(p for p in tmp_path.iterdir() if p.suffix == ".dcp")
        assert 1 <= len(published) <= 3  # n_saved=2, and a displaced one may be left when killed in between
        for folder in published:
            read_metadata(folder)  # complete: metadata and every file it lists
        model, optimizer, trainer = job.build()
        found = Checkpoint.resume({"model": model, "optimizer": optimizer, "trainer": trainer}, tmp_path)
        assert found is not None and trainer.state.iteration == step_in_name(found.name)
        steps.append(trainer.state.iteration)
    assert steps == sorted(steps) and steps[0] < steps[-1]  # each run went on from the last one's checkpoint
    kill_after_saves(tmp_path, saves=3, delay=0.0)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(leftovers) <= 1  # at most the save in flight at the kill
