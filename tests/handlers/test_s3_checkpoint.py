"""Checkpoints in S3, against a real S3 endpoint started on 127.0.0.1 by the test (moto's server) and the real
client stack (s3fs, aiobotocore, botocore): saves, a save killed midway, retention across runs, async saves,
a 2-rank sharded save resumed on 1 rank, and the demo with ``--output s3://...``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence import distributed as idist
from cadence.distributed.process_group import free_port as _free_port
from cadence.handlers import Checkpoint, FsspecSaver
from cadence.handlers.remote import MANIFEST_SUFFIX
from tests.distributed import _fsdp_jobs as jobs

BUCKET = "cadence-tests"
JOB = Path(__file__).with_name("_s3_job.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local S3 endpoint (moto's standalone server) with one bucket; the standard AWS variables point at it."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        s3fs.S3FileSystem().mkdir(BUCKET)
        yield url
        s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


@pytest.fixture
def url(endpoint: str) -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def _objects(url: str) -> list[str]:
    store = FsspecSaver.reader(url)
    listing = store.listing()
    return sorted(listing.complete + listing.leftovers)


def test_checkpoints_round_trip_through_s3_with_retention(url: str) -> None:
    model = nn.Linear(4, 4)
    trainer: Engine[None] = Engine(lambda engine, batch: model.weight.data.add_(1.0))
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, url, n_saved=2)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    trainer.run(range(8), max_epochs=1)
    assert _objects(url) == ["checkpoint_6.pt", "checkpoint_8.pt"]
    assert checkpoint.last_checkpoint == f"{url}/checkpoint_8.pt"
    again, resumed = nn.Linear(4, 4), Engine(lambda engine, batch: None)
    assert Checkpoint.resume({"model": again, "trainer": resumed}, url) == f"{url}/checkpoint_8.pt"
    assert resumed.state.iteration == 8
    assert torch.equal(again.weight, model.weight)


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run_and_kill(url: str, at: int, delay: float, extra: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, str(JOB), url, "8", *extra], env=_env(), stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == f"saving {at}":
            time.sleep(delay)
            break
    else:
        pytest.fail(f"the run ended before its save at step {at} (exit status {process.wait()})")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def _check_complete(url: str) -> int:
    """Every published checkpoint holds the weights of its step; resume loads the newest; return its step."""
    store = FsspecSaver.reader(url)
    for name in store.listing().complete:
        model = nn.Linear(2048, 2048, bias=False)
        store.load({"model": model}, name)
        step = int(name.removeprefix("checkpoint_").removesuffix(".pt"))
        assert torch.equal(model.weight, torch.full_like(model.weight, float(step))), name
    model, trainer = nn.Linear(2048, 2048, bias=False), Engine(lambda engine, batch: None)
    found = Checkpoint.resume({"model": model, "trainer": trainer}, url)
    assert found is not None
    assert torch.equal(model.weight, torch.full_like(model.weight, float(trainer.state.iteration)))
    return trainer.state.iteration


@pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])
def test_a_save_killed_midway_leaves_complete_checkpoints_and_the_run_resumes(url: str, mode: list[str]) -> None:
    rng = random.Random(len(mode))
    for attempt in range(2):
        _run_and_kill(url, at=3 + 2 * attempt, delay=rng.uniform(0.05, 0.25), extra=mode)
        _check_complete(url)
    finished = subprocess.run(
        [sys.executable, str(JOB), url, "8", *mode], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert _check_complete(url) == 8
    # the resumed run adopted the earlier checkpoints (n_saved=2 across runs) and removed the interrupted saves'
    assert _objects(url) == ["checkpoint_7.pt", "checkpoint_8.pt"]


def test_a_two_rank_sharded_checkpoint_in_s3_resumes_in_one_process(url: str, tmp_path: Path) -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        parallel.run(jobs.train, "fsdp", url, 3, False, True)  # FSDP2 shards, stopped after step 3
    published = FsspecSaver.reader(url).listing().complete
    assert published == ["checkpoint_2.dcp", "checkpoint_3.dcp"]
    resumed = jobs.train(0, None, url, resume=True, sharded=True)  # no process group, no FSDP
    expected = jobs.train(0, None, str(tmp_path / "whole"))  # the uninterrupted run, in one process
    assert resumed["iteration"] == jobs.STEPS
    for name, tensor in expected["model"].items():  # two ranks summed the batch in another order
        assert torch.allclose(resumed["model"][name], tensor, rtol=1e-5, atol=1e-6), name


def test_the_demo_writes_to_and_resumes_from_s3(url: str) -> None:
    command = [sys.executable, "-m", "cadence.examples.digits", "--epochs", "2", "--quiet", "--no-tensorboard"]
    command += ["--output", url, "--save-every", "10"]
    first = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    import fsspec

    fs = fsspec.filesystem("s3")
    root = url.removeprefix("s3://")
    fs.invalidate_cache()
    assert {p.rsplit("/", 1)[-1] for p in fs.ls(root)} >= {"checkpoints", "best", "metrics.csv", "curves.png"}
    rows = fs.cat(f"{root}/metrics.csv").decode().splitlines()
    again = subprocess.run([*command, "--resume"], env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "the run had finished" in again.stdout
    fs.invalidate_cache()
    assert fs.cat(f"{root}/metrics.csv").decode().splitlines() == rows


def test_published_objects_carry_their_manifest(url: str) -> None:
    Checkpoint({"model": nn.Linear(1, 1)}, url)(Engine(lambda engine, batch: None))
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(url.removeprefix("s3://")))
    assert names == ["model_0.pt", "model_0.pt" + MANIFEST_SUFFIX]
