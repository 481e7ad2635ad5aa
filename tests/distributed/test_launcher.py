from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing

from cadence import distributed as idist
from cadence.distributed import Parallel, ProcessFailedError
from tests.distributed import _jobs
from tests.distributed.conftest import finish, free_port, load_ranks, torchrun


def test_without_backend_fn_runs_once_in_this_process() -> None:
    with Parallel() as parallel:
        assert parallel.run(lambda local_rank, a, *, b: (local_rank, a, b), 1, b=2) == [(0, 1, 2)]
    assert not dist.is_initialized()


def test_with_a_backend_and_no_launcher_a_group_of_one_is_made_and_destroyed() -> None:
    with Parallel("gloo", timeout=30) as parallel:
        assert dist.is_initialized()
        assert parallel.run(lambda local_rank: idist.all_gather(idist.get_rank())) == [[0]]
    assert not dist.is_initialized()


def test_the_group_is_destroyed_when_fn_raises() -> None:
    def fail(local_rank: int) -> None:
        raise KeyError("bad")

    with pytest.raises(KeyError, match="bad"), Parallel("gloo") as parallel:
        parallel.run(fail)
    assert not dist.is_initialized()


def test_an_existing_group_is_used_and_left_alone() -> None:
    with Parallel("gloo"):
        with Parallel("gloo") as inner:
            assert inner.run(lambda local_rank: idist.get_world_size()) == [1]
        assert dist.is_initialized()
    assert not dist.is_initialized()


def test_run_outside_a_with_block_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="Use Parallel as a context manager"):
        Parallel().run(print)


def test_a_parallel_cannot_be_entered_twice() -> None:
    parallel = Parallel()
    with parallel, pytest.raises(RuntimeError, match="already in use"), parallel:
        pass


def test_run_needs_a_callable() -> None:
    with Parallel() as parallel, pytest.raises(TypeError, match="needs a callable fn"):
        parallel.run(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "mpi"}, "Unknown backend 'mpi'"),
        ({"nproc_per_node": 2}, "If backend is None, argument 'nproc_per_node' should be also None.*needs a backend"),
        ({"backend": "gloo", "nproc_per_node": 0}, "Argument nproc_per_node should positive, but given 0"),
        ({"backend": "gloo", "nnodes": 0, "nproc_per_node": 1}, "Argument nnodes should positive"),
        (
            {"backend": "gloo", "nproc_per_node": 1, "nnodes": 2, "node_rank": 2},
            "Argument node_rank should be between 0 and 1",
        ),
        ({"backend": "gloo", "nproc_per_node": 1, "nnodes": 2}, "node_rank should be given"),
        ({"backend": "gloo", "nproc_per_node": 1, "nnodes": 2, "node_rank": 1}, "master_addr and master_port"),
        ({"backend": "gloo", "init_method": "tcp://10.0.0.1:1234", "nproc_per_node": 1}, "will hang"),
        ({"backend": "horovod"}, "cadence runs on torch.distributed"),
        ({"backend": "gloo", "master_port": 70000, "nproc_per_node": 1}, "master_port must be a port number"),
        ({"backend": "gloo", "master_port": 1234}, "need nproc_per_node"),
        ({"backend": "gloo", "timeout": 0}, "timeout must be a positive"),
        ({"backend": "gloo", "timeout": "5"}, "timeout must be a positive"),
        pytest.param(
            {"backend": "nccl"},
            "needs CUDA",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA"),
        ),
    ],
)
def test_bad_options_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Parallel(**kwargs)


def test_spawning_under_torchrun_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    with pytest.raises(ValueError, match="drop nproc_per_node"):
        Parallel("gloo", nproc_per_node=2)


def test_timeout_accepts_seconds_and_timedelta() -> None:
    assert Parallel("gloo", timeout=5).timeout == timedelta(seconds=5)
    assert Parallel("gloo").timeout == idist.DEFAULT_TIMEOUT
    assert "mode=ENVIRONMENT" in repr(Parallel("gloo"))


def test_spawning_a_lambda_is_a_clear_error() -> None:
    with (
        Parallel("gloo", nproc_per_node=2) as parallel,
        pytest.raises(TypeError, match="module-level function") as caught,
    ):
        parallel.run(lambda local_rank: None)
    assert isinstance(caught.value, pickle.PicklingError | AttributeError)  # what pickling raises under Ignite


def test_spawned_processes_return_their_results_by_local_rank(spawned: list[dict[str, Any]]) -> None:
    assert [result["context"]["local_rank"] for result in spawned] == [0, 1]


def test_a_rank_that_raises_at_iteration_k_ends_the_run_with_an_error_naming_it() -> None:
    started = time.monotonic()
    with Parallel("gloo", nproc_per_node=2, timeout=20) as parallel, pytest.raises(ProcessFailedError) as caught:
        parallel.run(_jobs.fail_at_iteration, 1, 7)
    assert time.monotonic() - started < 20
    error = caught.value
    assert (error.rank, error.local_rank) == (1, 1)
    assert str(error).startswith("rank 1 (local rank 1) failed: ValueError: planned failure at iteration 7")
    assert "Traceback from rank 1" in str(error)
    # Ignite's spawn (torch.multiprocessing) raises ProcessRaisedException there: code may catch it
    assert isinstance(error, torch.multiprocessing.ProcessRaisedException) and error.error_index == 1


def test_a_hung_collective_becomes_an_error_after_the_timeout() -> None:
    started = time.monotonic()
    with Parallel("gloo", nproc_per_node=2, timeout=2) as parallel, pytest.raises(ProcessFailedError) as caught:
        parallel.run(_jobs.hang_on_rank_1)
    assert time.monotonic() - started < 30
    # rank 1 never reached the collective: it is named as the suspect, not rank 0 which waited for it
    assert caught.value.rank == 1
    message = str(caught.value)
    assert "rank 1 (local rank 1) failed: did not join a collective that rank 0 gave up waiting for" in message
    assert "Timed out" in str(caught.value)


def test_a_rank_that_exits_with_a_status_makes_the_launcher_exit_with_it() -> None:
    with Parallel("gloo", nproc_per_node=2, timeout=20) as parallel, pytest.raises(SystemExit) as caught:
        parallel.run(_jobs.exit_with, 143)
    assert caught.value.code == 143


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "job"), [(signal.SIGKILL, "spin"), (signal.SIGTERM, "spin"), (signal.SIGKILL, "spin-exit")]
)
def test_workers_do_not_outlive_their_launcher(tmp_path: Path, how: signal.Signals, job: str) -> None:
    stderr = (tmp_path / "stderr").open("w")
    command = [sys.executable, "-m", "tests.distributed._jobs", job, str(tmp_path)]
    launcher = subprocess.Popen(command, stderr=stderr)
    try:
        pids = _wait_for_pids(tmp_path, 2)
        launcher.send_signal(how)
        launcher.wait(30)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in pids if _alive(pid)], "workers kept running after their launcher died"
        # a worker that exits by itself (spin-exit) has nobody to report to: no traceback about the broken pipe
        assert "BrokenPipeError" not in (tmp_path / "stderr").read_text()
    finally:
        launcher.kill()
        stderr.close()


def _wait_for_pids(folder: Path, count: int) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = list(folder.glob("pid-*"))
        if len(files) == count and all(f.read_text() for f in files):
            return [int(f.read_text()) for f in files]
        time.sleep(0.1)
    raise AssertionError("the workers did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
        return stat.read().split()[2] != "Z"


def test_a_rank_killed_by_a_signal_is_named() -> None:
    with Parallel("gloo", nproc_per_node=2, timeout=20) as parallel, pytest.raises(ProcessFailedError) as caught:
        parallel.run(_jobs.killed_on_rank_1)
    assert caught.value.rank == 1
    assert "rank 1 (local rank 1) failed: process was killed by signal SIGKILL" in str(caught.value)
    assert isinstance(caught.value, torch.multiprocessing.ProcessExitedException)  # as torch.multiprocessing's
    assert (caught.value.exit_code, caught.value.signal_name) == (-signal.SIGKILL, "SIGKILL")


@pytest.mark.slow
def test_two_torchrun_nodes_on_one_machine(tmp_path: Path) -> None:
    port = free_port()
    nodes = [
        torchrun("multinode", tmp_path, nproc_per_node=1, extra=["--nnodes=2", f"--node_rank={node}"], port=port)
        for node in range(2)
    ]
    for node in nodes:
        finish(node)
    results = load_ranks(tmp_path, 2)
    for rank, result in enumerate(results):
        context = result["context"]
        assert (context["rank"], context["local_rank"], context["node_rank"]) == (rank, 0, rank)
        assert (context["world_size"], context["nnodes"], context["nproc_per_node"]) == (2, 2, 1)
        assert result["gathered"] == [0, 10]
