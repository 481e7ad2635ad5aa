"""The demo as a job of two torchrun agents ("nodes" on 127.0.0.1) that share one output folder.

- Only the saving rank adopts or judges the folder's files: neither node warns about the checkpoints the
  other wrote, in the first run nor in a resumed one (issue 20, item 3).
- A job restarted at another size resumes (the documented alternative to a node rejoining a running job,
  which torch 2.13's elastic agent deadlocks on, see docs/guides/distributed.md): two nodes train for a
  while, the job stops, one node resumes it alone from the sharded checkpoints (DCP reshards them), and the
  run ends within float tolerance of a two-node run that never stopped (the same global batches, summed in
  another order).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cadence.distributed.process_group import free_port
from tests.resume.test_kill_anywhere import latest, log_rows

pytestmark = pytest.mark.slow

ENVIRONMENT = {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
DEMO = ["-m", "cadence.examples.digits", "--save-every", "10", "--quiet", "--no-tensorboard", "--no-watchdog"]


def run(commands: list[list[str]], what: str) -> list[str]:
    """Start the agents of one job (one command each), wait for all; return their outputs."""
    environment = {**os.environ, **ENVIRONMENT}
    processes = [
        subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for command in commands
    ]
    outputs = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise AssertionError(f"{what}: the job hung") from None
        assert process.returncode == 0, f"{what}\n{output}"
        outputs.append(output)
    return outputs


def two_nodes(out: Path, *extra: str) -> list[list[str]]:
    port = free_port()
    agent = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1"]
    agent += ["--master_addr=127.0.0.1", f"--master_port={port}"]
    return [[*agent, f"--node_rank={node}", *DEMO, "--output", str(out), *extra] for node in range(2)]


def one_node(out: Path, *extra: str) -> list[list[str]]:
    agent = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    return [[*agent, *DEMO, "--output", str(out), *extra]]


def warnings_in(outputs: list[str]) -> list[str]:
    return [line for output in outputs for line in output.splitlines() if "Warning" in line or "not saved" in line]


def test_two_nodes_sharing_one_folder_warn_about_nothing_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    first = run(two_nodes(out, "--epochs", "1"), "two nodes, epoch 1")
    assert warnings_in(first) == [], first
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint_30.pt", "checkpoint_34.pt"], checkpoints  # n_saved=2 (34 steps an epoch)
    again = run(two_nodes(out, "--epochs", "2", "--resume"), "two nodes, resumed for epoch 2")
    assert warnings_in(again) == [], again
    assert "resumed from" in again[0]
    # the resumed run adopted the first run's files: still two, the newest
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint_60.pt", "checkpoint_68.pt"]


def test_a_two_node_job_restarted_on_one_node_resumes_from_its_sharded_checkpoints(tmp_path: Path) -> None:
    sharded = ("--epochs", "2", "--sharded-checkpoint")
    reference = tmp_path / "reference"
    run(two_nodes(reference, *sharded), "the uninterrupted two-node run")
    out = tmp_path / "resized"
    environment = {**os.environ, **ENVIRONMENT}
    agents = [
        subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        for command in two_nodes(out, *sharded)
    ]
    deadline = time.monotonic() + 240
    while not (out / "checkpoints" / "checkpoint_34.dcp").is_dir():  # the end of epoch 1 is saved: the job ends
        assert time.monotonic() < deadline and all(agent.poll() is None for agent in agents), "no checkpoint at 34"
        time.sleep(0.05)
    for agent in agents:
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait()
    resumed = run(one_node(out, "--resume", *sharded), "one node, resumed")
    assert "resumed from" in resumed[0], resumed[0]
    expected, got = latest(reference), latest(out)
    assert got["trainer"]["iteration"] == expected["trainer"]["iteration"] == 68
    for name, tensor in expected["model"].items():  # one rank sums each global batch in another order
        assert torch.allclose(got["model"][name], tensor, rtol=1e-4, atol=1e-5), name
    assert [row["step"] for row in log_rows(out)] == [row["step"] for row in log_rows(reference)]
