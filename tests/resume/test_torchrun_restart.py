"""The demo under torchrun with ``--max-restarts``: a worker SIGKILLed at a random step is restarted by the
elastic agent, the run resumes from its newest checkpoint, finishes every time, and ends with the weights
and the log of a run that was never stopped."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.resume.test_kill_anywhere import latest, log_rows

pytestmark = pytest.mark.slow

ENVIRONMENT = {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}


def torchrun_demo(out: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=3",
        "-m", "cadence.examples.digits", "--epochs", "3", "--save-every", "10", "--quiet", "--no-tensorboard",
        "--output", str(out), "--resume",
    ]  # fmt: skip
    return subprocess.Popen(
        command, env={**os.environ, **ENVIRONMENT}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def workers(agent: int) -> list[int]:
    children = Path(f"/proc/{agent}/task/{agent}/children").read_text().split()
    return [int(pid) for pid in children if b"digits" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def logged_step(out: Path, step: int) -> bool:
    try:
        return any(line.startswith(f"{step},") for line in (out / "metrics.csv").read_text().splitlines())
    except FileNotFoundError:
        return False


def finish(process: subprocess.Popen[str], what: str) -> None:
    try:
        output, _ = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"{what}: the job hung\n{output}") from None
    assert process.returncode == 0, f"{what}\n{output}"


def test_a_worker_killed_under_torchrun_is_restarted_and_the_run_ends_as_the_uninterrupted_one(
    tmp_path: Path,
) -> None:
    finish(torchrun_demo(tmp_path / "reference"), "the uninterrupted run")
    expected = latest(tmp_path / "reference")
    rng = random.Random(0)
    for attempt in range(3):
        out = tmp_path / f"killed{attempt}"
        agent = torchrun_demo(out)
        step = rng.choice([20, 30, 40, 50, 60])
        while agent.poll() is None and not logged_step(out, step):
            time.sleep(0.02)
        assert agent.poll() is None, f"the run ended before step {step}: {agent.communicate()[0]}"
        victim = rng.choice(workers(agent.pid))
        os.kill(victim, signal.SIGKILL)
        what = f"attempt {attempt}: a worker SIGKILLed after step {step}"
        finish(agent, what)
        got = latest(out)
        for name, tensor in expected["model"].items():
            assert torch.equal(got["model"][name], tensor), (what, name)
        assert got["trainer"]["iteration"] == expected["trainer"]["iteration"], what
        assert log_rows(out) == log_rows(tmp_path / "reference"), what
