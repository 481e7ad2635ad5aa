"""The CUDA paths: AMP fp16 with a GradScaler, CUDA RNG states in an exact resume, NCCL collectives and
FSDP2 on a GPU. They run only where CUDA is present (CI has none; a GPU machine runs them by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cadence import Events
from cadence import distributed as idist
from cadence.engine.supervised import create_supervised_trainer
from cadence.handlers import Checkpoint, DiskSaver, ShardedDiskSaver
from cadence.metrics import Accuracy

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    pytest.mark.usefixtures("cuda_children"),
]


def _loader() -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(7)
    data = TensorDataset(torch.randn(320, 32, generator=generator), torch.randint(0, 4, (320,), generator=generator))
    return DataLoader(data, batch_size=32, shuffle=True)


def _amp_run(folder: Path, *, stop_at: int | None = None, resume: bool = False) -> dict[str, Any]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 4)).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**12)
    trainer = create_supervised_trainer(
        model, optimizer, nn.CrossEntropyLoss(), "cuda", amp_mode="amp", scaler=scaler, deterministic=True, seed=3
    )
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer, "scaler": scaler}
    checkpoint = Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=2)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=4), checkpoint)
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda engine: engine.terminate())
    if resume:
        assert Checkpoint.resume(to_save, folder) is not None
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: losses.append(engine.state.output))
    trainer.run(_loader(), max_epochs=3)
    return {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "scale": scaler.get_scale()}


def test_amp_fp16_with_a_scaler_and_dropout_resumes_bit_identically(tmp_path: Path) -> None:
    expected = _amp_run(tmp_path / "whole")
    _amp_run(tmp_path / "cut", stop_at=14)  # last checkpoint at iteration 12; 13 and 14 are lost
    resumed = _amp_run(tmp_path / "cut", resume=True)
    assert resumed["scale"] == expected["scale"]
    for name, tensor in expected["model"].items():
        assert torch.equal(resumed["model"][name], tensor), name


def _nccl_job(local_rank: int) -> dict[str, Any]:
    device = idist.device()
    accuracy = Accuracy(device=device)
    accuracy.update((torch.eye(4, device=device), torch.tensor([0, 1, 2, 0], device=device)))
    gathered = idist.all_gather("rank-name")
    value = idist.all_reduce(torch.ones(3, device=device)).sum().item()
    return {
        "backend": idist.backend(),
        "device": str(device),
        "accuracy": accuracy.compute(),
        "gathered": gathered,
        "sum": value,
        "broadcast": idist.broadcast("hello", src=0, safe_mode=True),
    }


def test_nccl_collectives_and_a_metric_on_the_gpu() -> None:
    with idist.Parallel("nccl", nproc_per_node=1) as parallel:
        (result,) = parallel.run(_nccl_job)
    assert result == {
        "backend": "nccl",
        "device": "cuda:0",
        "accuracy": 0.75,
        "gathered": ["rank-name"],
        "sum": 3.0,
        "broadcast": "hello",
    }


def _fsdp_job(local_rank: int, folder: str) -> dict[str, Any]:
    from torch.distributed.fsdp import MixedPrecisionPolicy

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 4))
    sharded = idist.auto_model(model, strategy="fsdp", mp_policy=MixedPrecisionPolicy(param_dtype=torch.bfloat16))
    optimizer = idist.auto_optim(torch.optim.Adam(sharded.parameters(), lr=1e-2))
    trainer = create_supervised_trainer(sharded, optimizer, nn.CrossEntropyLoss(), device=idist.device())
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: losses.append(engine.state.output))
    checkpoint = Checkpoint({"model": sharded, "optimizer": optimizer}, folder, n_saved=1)
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    dcp_folder = Path(folder) / "dcp"
    to_save = {"model": sharded, "optimizer": optimizer, "trainer": trainer}
    in_background = Checkpoint(to_save, ShardedDiskSaver(dcp_folder), n_saved=2, async_save=True)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=5), in_background)  # DCP async_save on its gloo group
    trainer.run(_loader(), max_epochs=3)
    return {"first": losses[0], "last": losses[-1], "files": sorted(p.name for p in Path(folder).glob("*.pt"))}


def test_fsdp2_with_bf16_mixed_precision_on_nccl_trains_and_saves_a_plain_checkpoint(tmp_path: Path) -> None:
    with idist.Parallel("nccl", nproc_per_node=1) as parallel:
        (result,) = parallel.run(_fsdp_job, str(tmp_path))
    assert result["last"] < result["first"]
    (name,) = result["files"]
    plain = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 4))
    state = torch.load(tmp_path / name, weights_only=True)
    plain.load_state_dict(state["model"])
    assert all(p.dtype == torch.float32 for p in plain.parameters())
    assert sorted(p.name for p in (tmp_path / "dcp").iterdir()) == ["checkpoint_25.dcp", "checkpoint_30.dcp"]
    from_dcp = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 4))
    Checkpoint.load_objects({"model": from_dcp}, tmp_path / "dcp" / "checkpoint_30.dcp")  # the same final weights
    assert all(torch.equal(from_dcp.state_dict()[k], v) for k, v in plain.state_dict().items())


def test_the_demo_trains_on_the_gpu_and_resumes(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "cadence.examples.digits", "--output", str(tmp_path), "--quiet"]
    first = subprocess.run([*command, "--epochs", "2"], capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    again = subprocess.run([*command, "--epochs", "3", "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "test accuracy of the best model" in again.stdout
