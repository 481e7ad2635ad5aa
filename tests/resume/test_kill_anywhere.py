"""Kill the demo at random moments (SIGKILL, SIGTERM, Ctrl-C), several times in a row, during a resume and
during a checkpoint write, in one and two processes: the end result is the uninterrupted run's, bit for bit."""

from __future__ import annotations

import csv
import io
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

pytestmark = pytest.mark.slow

EPOCHS = "3"
N_SAVED = 2  # the demo's checkpoints keep the last two


def demo_command(out: Path, *extra: str, nproc: int = 1) -> list[str]:
    args = ["--output", str(out), "--epochs", EPOCHS, "--quiet", "--save-every", "7", "--nproc", str(nproc)]
    return [sys.executable, "-m", "tests.resume.demo_faults", *extra, *args]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def latest(out: Path) -> dict[str, Any]:
    files = sorted((out / "checkpoints").glob("checkpoint_*"), key=lambda p: int(p.stem.split("_")[1]))
    if files[-1].is_dir():  # a sharded (DCP) checkpoint: read back as one state, each object's entry unpickled
        from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

        dcp_to_torch_save(files[-1], out / "latest.pt")
        state = torch.load(out / "latest.pt", weights_only=False)
        return {k: torch.load(v, weights_only=True) if isinstance(v, io.BytesIO) else v for k, v in state.items()}
    checkpoint: dict[str, Any] = torch.load(files[-1], weights_only=True)
    return checkpoint


#: The demo's columns that are measured (wall-clock speed, resident memory): they differ between any two runs.
MEASURED = ("train/throughput/", "train/memory/")


def log_rows(out: Path) -> list[dict[str, str]]:
    """Every step and every value but the measured ones: the resumed run logs what the uninterrupted one does."""
    with (out / "metrics.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    measured = [name for name in rows[0] if name.startswith(MEASURED)] if rows else []
    assert measured, "the demo no longer logs its speed and memory"
    assert all(row[name] != "nan" for row in rows for name in measured)  # a resumed run measures from its start
    return [{name: value for name, value in row.items() if not name.startswith(MEASURED)} for row in rows]


SHARDED = ("--strategy", "fsdp", "--sharded-checkpoint", "--async-checkpoint")


@pytest.mark.parametrize(("nproc", "flags"), [(1, ()), (2, ()), (2, SHARDED)], ids=["1", "2", "2-fsdp-sharded-async"])
def test_the_demo_killed_anywhere_and_resumed_ends_as_the_uninterrupted_run(
    tmp_path: Path, nproc: int, flags: tuple[str, ...]
) -> None:
    def demo(out: Path, *extra: str, nproc: int = 1) -> list[str]:
        return demo_command(out, *extra, *flags, nproc=nproc)

    started = time.monotonic()
    run(demo(tmp_path / "reference", nproc=nproc))
    duration = time.monotonic() - started
    out = tmp_path / "killed"
    rng = random.Random(nproc)
    kills = []
    for attempt in range(5):
        command = demo(out, "--resume", nproc=nproc)  # the first --resume finds nothing and starts afresh
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        how = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT][attempt % 3]
        delay = rng.uniform(0.2, duration) if attempt else duration * 0.6
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(how)
            kills.append((how.name, round(delay, 1)))
        _, errors = process.communicate(timeout=120)
        if how is signal.SIGTERM and kills and kills[-1][0] == "SIGTERM" and "SIGTERM received" in errors:
            assert process.returncode == 143 and "saved a checkpoint" in errors
    if nproc == 1:  # killed halfway through writing a checkpoint file
        subprocess.run(demo(out, "--die-in-save", "2", "--resume"), capture_output=True, timeout=600, check=False)
    run(demo(out, "--resume", nproc=nproc))
    assert kills, "no attempt was killed: the test proved nothing"

    expected, got = latest(tmp_path / "reference"), latest(out)
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), (name, kills)
    for key, slot in expected["optimizer"]["state"].items():
        assert torch.equal(got["optimizer"]["state"][key]["momentum_buffer"], slot["momentum_buffer"]), kills
    assert got["trainer"]["iteration"] == expected["trainer"]["iteration"]
    left = sorted(path.name for path in (out / "checkpoints").iterdir())
    assert len(left) <= N_SAVED and all(name.startswith("checkpoint_") for name in left), left
    assert log_rows(out) == log_rows(tmp_path / "reference"), kills
