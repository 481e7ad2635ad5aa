"""The demo under torchrun with ``--max-restarts``: a worker SIGKILLed at a random step is restarted by the
elastic agent, the run resumes from its newest checkpoint, finishes every time, and ends with the weights
and the log of a run that was never stopped."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.resume.test_kill_anywhere import latest, log_rows

pytestmark = pytest.mark.slow

ENVIRONMENT = {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}


def torchrun_demo(out: Path, *extra: str, environment: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=3",
        "-m", "cadence.examples.digits", "--epochs", "3", "--save-every", "10", "--quiet", "--no-tensorboard",
        "--output", str(out), "--resume", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        env={**os.environ, **ENVIRONMENT, **(environment or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def workers(agent: int) -> list[int]:
    children = Path(f"/proc/{agent}/task/{agent}/children").read_text().split()
    return [int(pid) for pid in children if b"digits" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def worker_of_rank(agent: int, rank: int) -> int:
    for pid in workers(agent):
        variables = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in variables:
            return pid
    raise AssertionError(f"no worker of rank {rank} under torchrun's agent {agent}")


def logged_step(out: Path, step: int) -> bool:
    try:
        return any(line.startswith(f"{step},") for line in (out / "metrics.csv").read_text().splitlines())
    except FileNotFoundError:
        return False


def finish(process: subprocess.Popen[str], what: str) -> str:
    try:
        output, _ = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"{what}: the job hung\n{output}") from None
    assert process.returncode == 0, f"{what}\n{output}"
    return output


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    finish(torchrun_demo(out), "the uninterrupted run")
    return out


def assert_same_run(out: Path, reference: Path, what: str) -> None:
    expected, got = latest(reference), latest(out)
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), (what, name)
    assert got["trainer"]["iteration"] == expected["trainer"]["iteration"], what
    assert log_rows(out) == log_rows(reference), what


def test_a_worker_killed_under_torchrun_is_restarted_and_the_run_ends_as_the_uninterrupted_one(
    tmp_path: Path, reference: Path
) -> None:
    rng = random.Random(0)
    for attempt in range(2):
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
        assert_same_run(out, reference, what)


@pytest.mark.parametrize(
    ("rank", "store_in_rank_0"),
    [(1, False), (0, True)],
    ids=["rank 1, torchrun's store", "rank 0 hosting the store"],
)
def test_a_frozen_worker_is_named_by_the_watchdog_and_the_restarted_run_ends_as_the_uninterrupted_one(
    tmp_path: Path, reference: Path, rank: int, store_in_rank_0: bool
) -> None:
    """SIGSTOP: the worker is alive but never reaches the next collective; without the watchdog the job waits
    for the process group's timeout (10 minutes in the demo). Its peer on the same host SIGKILLs it, so the
    agent need not wait 30 s for a stopped process to handle its SIGTERM. With the recipe for nodes that come
    back (``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``) the workers' store lives in rank 0: frozen, it takes the
    heartbeats with it, and the store's silence names it."""
    out = tmp_path / "frozen"
    environment = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"} if store_in_rank_0 else {}
    agent = torchrun_demo(out, "--watchdog-floor", "3", environment=environment)
    while agent.poll() is None and not logged_step(out, 30):
        time.sleep(0.02)
    assert agent.poll() is None, agent.communicate()[0]
    victim = worker_of_rank(agent.pid, rank)
    os.kill(victim, signal.SIGSTOP)
    started = time.monotonic()
    output = finish(agent, f"rank {rank} frozen after step 30")
    why = "its store does not answer" if store_in_rank_0 else "no heartbeat"
    assert f"rank {rank} (host {socket.gethostname()}, pid {victim}): stopped ({why})" in output, output
    assert "SIGKILLed by this rank (same host)" in output, output
    assert "exiting with status 75 so that the launcher restarts the workers" in output
    assert time.monotonic() - started < 120  # far below the process group's 10 minutes
    assert_same_run(out, reference, f"rank {rank} frozen")
