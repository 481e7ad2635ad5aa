"""Shared multi-process runs: each is started once per test session and checked by several tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import distributed as idist
from cadence.distributed.process_group import free_port
from tests.distributed import _jobs

JOBS_SCRIPT = Path(_jobs.__file__)


def torchrun(job: str, outdir: Path, *, nproc_per_node: int, extra: list[str], port: int) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}",
        "--master_addr=127.0.0.1", f"--master_port={port}", *extra, str(JOBS_SCRIPT), job, str(outdir),
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 60) -> None:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    assert process.returncode == 0, output


def load_ranks(outdir: Path, world_size: int) -> list[dict[str, Any]]:
    return [torch.load(outdir / f"rank{rank}.pt") for rank in range(world_size)]


@pytest.fixture(scope="session")
def spawned(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """``check_everything`` in two gloo processes spawned by ``Parallel(nproc_per_node=2)``."""
    workdir = tmp_path_factory.mktemp("spawned")
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(_jobs.check_everything, str(workdir))
    results[0]["once_file"] = (workdir / "once.txt").read_text()
    return results


@pytest.fixture(scope="session")
def torchrun_started(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """``check_everything`` in two gloo processes started by torchrun (environment initialisation)."""
    outdir = tmp_path_factory.mktemp("torchrun")
    finish(torchrun("everything", outdir, nproc_per_node=2, extra=[], port=free_port()))
    return load_ranks(outdir, 2)


@pytest.fixture(params=["spawn", "torchrun"])
def two_ranks(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The results of both ranks, for each way of starting them."""
    fixture = "spawned" if request.param == "spawn" else "torchrun_started"
    results: list[dict[str, Any]] = request.getfixturevalue(fixture)
    return results
