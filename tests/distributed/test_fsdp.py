"""FSDP2 through auto_model(strategy="fsdp"): training equals DDP, checkpoints resume exactly, also on 1 rank."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import distributed as idist
from tests.distributed import _fsdp_jobs as jobs

pytestmark = pytest.mark.slow


def two(
    strategy: str,
    folder: Path | None,
    stop_at: int | None = None,
    resume: bool = False,
    sharded: bool = False,
    async_save: bool = False,
) -> dict[str, Any]:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results: list[dict[str, Any]] = parallel.run(
            jobs.train, strategy, None if folder is None else str(folder), stop_at, resume, sharded, async_save
        )
    return {"rank0": results[0], "bytes": [r["bytes"] for r in results]}


def assert_bit_identical(resumed: dict[str, Any], expected: dict[str, Any]) -> None:
    assert resumed["iteration"] == jobs.STEPS
    for name, tensor in expected["model"].items():
        assert torch.equal(resumed["model"][name], tensor), name
    for name, slot in expected["optimizer"]["state"].items():
        for key, value in slot.items():
            assert torch.equal(resumed["optimizer"]["state"][name][key], value), (name, key)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {strategy: two(strategy, tmp_path_factory.mktemp(strategy)) for strategy in ("ddp", "fsdp")}


def test_fsdp_training_equals_ddp_training_and_holds_about_half_the_state(
    uninterrupted: dict[str, dict[str, Any]],
) -> None:
    ddp, fsdp = uninterrupted["ddp"]["rank0"], uninterrupted["fsdp"]["rank0"]
    for name, tensor in ddp["model"].items():
        assert torch.allclose(fsdp["model"][name], tensor, rtol=1e-5, atol=1e-6), name
    assert max(uninterrupted["fsdp"]["bytes"]) <= 0.55 * max(uninterrupted["ddp"]["bytes"])


def test_fsdp_killed_and_resumed_on_the_same_world_size_is_bit_identical(
    tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    two("fsdp", tmp_path, stop_at=3)
    resumed = two("fsdp", tmp_path, resume=True)["rank0"]
    expected = uninterrupted["fsdp"]["rank0"]
    assert_bit_identical(resumed, expected)


def test_a_two_rank_fsdp_checkpoint_resumes_in_one_plain_process(
    tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    two("fsdp", tmp_path, stop_at=3)
    resumed = jobs.train(0, None, str(tmp_path), resume=True)  # no process group, no FSDP
    expected = uninterrupted["fsdp"]["rank0"]
    assert resumed["iteration"] == jobs.STEPS
    for name, tensor in expected["model"].items():  # one process sums the batch in another order
        assert torch.allclose(resumed["model"][name], tensor, rtol=1e-5, atol=1e-6), name


def test_a_plain_checkpoint_resumes_into_an_fsdp_model(
    tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    jobs.train(0, None, str(tmp_path), stop_at=3)
    resumed = two("fsdp", tmp_path, resume=True)["rank0"]
    assert resumed["iteration"] == jobs.STEPS
    for name, tensor in uninterrupted["fsdp"]["rank0"]["model"].items():
        assert torch.allclose(resumed["model"][name], tensor, rtol=1e-5, atol=1e-6), name


def test_sharded_asynchronous_checkpoints_resume_bit_identically_and_each_rank_writes_its_shards(
    tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    stopped = two("fsdp", tmp_path, stop_at=3, sharded=True, async_save=True)["rank0"]  # written in the background
    # n_saved=2 folders, each complete: DCP's metadata, one shard file per rank and each rank's checksums of it
    names = (".checksums.0.json", ".checksums.1.json", ".metadata", "__0_0.distcp", "__1_0.distcp")
    assert stopped["files"] == [f"checkpoint_{step}.dcp/{name}" for step in (2, 3) for name in names]
    resumed = two("fsdp", tmp_path, resume=True, sharded=True)["rank0"]
    expected = uninterrupted["fsdp"]["rank0"]
    assert_bit_identical(resumed, expected)


def test_a_two_rank_sharded_checkpoint_resumes_in_one_plain_process_and_a_ddp_one_into_fsdp(
    tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    two("fsdp", tmp_path / "fsdp", stop_at=3, sharded=True)
    resumed = jobs.train(0, None, str(tmp_path / "fsdp"), resume=True, sharded=True)  # no process group, no FSDP
    two("ddp", tmp_path / "ddp", stop_at=3, sharded=True)
    from_ddp = two("fsdp", tmp_path / "ddp", resume=True, sharded=True)["rank0"]
    for result in (resumed, from_ddp):
        assert result["iteration"] == jobs.STEPS
        for name, tensor in uninterrupted["fsdp"]["rank0"]["model"].items():
            assert torch.allclose(result["model"][name], tensor, rtol=1e-5, atol=1e-6), name


def test_auto_model_refuses_mixed_up_options() -> None:
    with pytest.raises(ValueError, match="'ddp' or 'fsdp'"):
        idist.auto_model(nn.Linear(1, 1), strategy="zero")
    with pytest.raises(ValueError, match="strategy='fsdp' only"):
        idist.auto_model(nn.Linear(1, 1), shard={nn.Linear})
    with pytest.raises(ValueError, match="DistributedDataParallel options"):
        idist.auto_model(nn.Linear(1, 1), strategy="fsdp", find_unused_parameters=True)
    from cadence.distributed.fsdp import fully_shard_model

    with pytest.raises(TypeError, match="predicate"):
        fully_shard_model(nn.Linear(1, 1), shard=[42])  # type: ignore[list-item]
