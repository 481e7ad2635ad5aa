from __future__ import annotations

import os

import pytest
import torch.distributed as dist

from cadence import distributed as idist
from cadence.distributed.slurm import ddp_environment_from_slurm, expand_hostlist

SLURM = {
    "SLURM_PROCID": "3",
    "SLURM_LOCALID": "1",
    "SLURM_NTASKS": "4",
    "SLURM_JOB_NUM_NODES": "2",
    "SLURM_JOB_NODELIST": "c[1-2]",
    "SLURM_JOB_ID": "98765",
}


@pytest.mark.parametrize(
    ("nodelist", "hosts"),
    [
        ("localhost", ["localhost"]),
        ("n[3-4,1]", ["n1", "n3", "n4"]),
        ("m2-[009-11]vm", ["m2-009vm", "m2-010vm", "m2-011vm"]),
        ("a[1-2].x, b", ["a1.x", "a2.x", "b"]),
        ("[]", []),
    ],
)
def test_expand_hostlist(nodelist: str, hosts: list[str]) -> None:
    assert expand_hostlist(nodelist) == hosts


@pytest.mark.parametrize("nodelist", ["n[]", "n[a-b]", "n[1-2"])
def test_expand_hostlist_rejects_bad_lists(nodelist: str) -> None:
    with pytest.raises(ValueError, match="hostlist invalid"):
        expand_hostlist(nodelist)


def test_slurm_variables_become_torch_variables() -> None:
    assert ddp_environment_from_slurm(SLURM) == {
        "RANK": 3,
        "LOCAL_RANK": 1,
        "WORLD_SIZE": 4,
        "MASTER_ADDR": "c1",
        "MASTER_PORT": 15000 + 8765,
    }


def test_torch_variables_must_agree_with_slurm_on_several_nodes() -> None:
    torch_vars = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "h", "MASTER_PORT": "1234"}
    assert ddp_environment_from_slurm({**SLURM, **torch_vars})["MASTER_ADDR"] == "h"
    with pytest.raises(RuntimeError, match="inconsistent"):
        ddp_environment_from_slurm({**SLURM, **torch_vars, "RANK": "0"})
    with pytest.warns(UserWarning, match="We detected the following env variables"):
        ddp_environment_from_slurm({**SLURM, "RANK": "3"})


def test_initialize_under_a_one_task_slurm_job(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    one_task = {**SLURM, "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NTASKS": "1", "SLURM_JOB_NUM_NODES": "1"}
    one_task["SLURM_JOB_NODELIST"] = "localhost"
    for name, value in one_task.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="should not be specified with SLURM"):
        idist.initialize("gloo", init_method="env://", rank=0, world_size=1)
    idist.initialize("gloo")
    try:
        assert os.environ["MASTER_PORT"] == str(15000 + 8765) and idist.get_world_size() == 1
    finally:
        idist.finalize()
    assert "MASTER_PORT" not in os.environ and not dist.is_initialized()


def test_initialize_reports_missing_slurm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    with pytest.raises(RuntimeError, match="SLURM distributed configuration is missing"):
        idist.initialize("gloo")
