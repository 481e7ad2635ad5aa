"""Functions run inside spawned or torchrun-started processes by the distributed tests.

Run as a script (under torchrun) it runs one job and saves each rank's result to ``<outdir>/rank<r>.pt``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cadence import Engine
from cadence import distributed as idist

FEATURES, CLASSES, SAMPLES, GLOBAL_BATCH = 8, 3, 64, 16


def context() -> dict[str, Any]:
    return {
        "rank": idist.get_rank(),
        "local_rank": idist.get_local_rank(),
        "world_size": idist.get_world_size(),
        "nproc_per_node": idist.get_nproc_per_node(),
        "nnodes": idist.get_nnodes(),
        "node_rank": idist.get_node_rank(),
        "backend": None if idist.backend() is None else str(idist.backend().value),
        "device": str(idist.device()),
        "is_distributed": idist.is_distributed(),
    }


def collectives() -> dict[str, Any]:
    rank = idist.get_rank()
    tensor = torch.tensor([rank + 1.0, -rank])
    reduced_in_place = idist.all_reduce(tensor) is tensor
    rows = torch.arange(rank + 1, dtype=torch.float32).unsqueeze(1).repeat(1, 2) + 10 * rank
    received = torch.zeros(3, dtype=torch.long)
    idist.broadcast(torch.tensor([4, 5, 6]) if rank == 0 else received)
    return {
        "sum_int": idist.all_reduce(rank + 1),
        "sum_float": idist.all_reduce(rank + 0.5, "SUM"),
        "min": idist.all_reduce(rank + 1, idist.ReduceOp.MIN),
        "max": idist.all_reduce(float(rank + 1), "MAX"),
        "product": idist.all_reduce(rank + 2, idist.ReduceOp.PRODUCT),
        "tensor_sum": tensor.tolist(),
        "tensor_in_place": reduced_in_place,
        "tensor_max": idist.all_reduce(torch.tensor([rank, 5 - rank]), "MAX").tolist(),
        "gather_uneven": idist.all_gather(rows).tolist(),
        "gather_scalar": idist.all_gather(torch.tensor(rank * 1.5)).tolist(),
        "gather_bool": idist.all_gather(torch.tensor([rank == 0])).tolist(),
        "gather_number": idist.all_gather(rank * 2),
        "gather_string": idist.all_gather(f"rank{rank}"),
        "gather_object": idist.all_gather({"rank": rank}),
        "broadcast_tensor": idist.broadcast(torch.arange(3) + 7 if rank == 0 else None, safe_mode=True).tolist(),
        "broadcast_in_place": received.tolist(),
        "broadcast_number": idist.broadcast(2.5 if rank == 0 else None, safe_mode=True),
        "broadcast_string": idist.broadcast(
            f"from {rank}" if rank == idist.get_world_size() - 1 else "", src=idist.get_world_size() - 1
        ),
        **groups(),
    }


def groups() -> dict[str, Any]:
    """Collectives limited to a subgroup (rank 1 alone) and gathers of tensors of different shapes."""
    rank = idist.get_rank()
    only_last = [idist.get_world_size() - 1]
    shapes = [[r + 1, 2] for r in range(idist.get_world_size())]
    mine = torch.full((rank + 1, 2), float(rank))
    return {
        "group_reduce": idist.all_reduce(torch.tensor([rank + 1.0]), group=only_last).tolist(),
        "group_gather": idist.all_gather(f"r{rank}", group=idist.new_group(only_last)),
        "not_in_group": idist.utils._rank_not_in_group(only_last),
        "shaped": [t.tolist() for t in idist.all_gather_tensors_with_shapes(mine, shapes)],
        "local_first": _local_first(),
    }


def _local_first() -> int:
    with idist.one_rank_first(rank=1, local=True):
        return idist.get_local_rank()


def rank_ordering(workdir: str) -> dict[str, Any]:
    marker = Path(workdir) / "prepared.txt"
    with idist.one_rank_first():
        if idist.get_rank() == 0:
            time.sleep(0.3)
            marker.write_text("ready")
        seen_prepared = marker.read_text() == "ready"

    @idist.one_rank_only(with_barrier=True)
    def write_once() -> str:
        with open(Path(workdir) / "once.txt", "a") as handle:
            handle.write(f"rank {idist.get_rank()}\n")
        return "wrote"

    return {"first_saw_prepared": seen_prepared, "only": write_once()}


def sharding() -> dict[str, Any]:
    data = list(range(11))
    exact = [batch.tolist() for batch in idist.auto_dataloader(data, batch_size=4)]
    padded = [batch.tolist() for batch in idist.auto_dataloader(data, batch_size=4, shuffle=True)]
    errors = []
    for bad in ({"sampler": torch.utils.data.SequentialSampler(data)}, {"batch_size": 1}):
        try:
            idist.auto_dataloader(data, **bad)
        except ValueError as error:
            errors.append(str(error))
    loader = idist.auto_dataloader(data, batch_size=4, seed=3)
    loader.batch_sampler.set_epoch(1)  # type: ignore[union-attr]  # a ReproducibleBatchSampler
    reproducible = [batch.tolist() for batch in loader]
    try:
        idist.auto_dataloader(data, batch_size=4, seed=3, sharding="exact")
    except ValueError as error:
        errors.append(str(error))
    with warnings.catch_warnings(record=True) as caught:  # Ignite warns (not raises) for these
        warnings.simplefilter("always")
        batch_sampler = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(data), 3, False)
        idist.auto_dataloader(data, batch_sampler=batch_sampler)
        rank, world_size = idist.get_rank(), idist.get_world_size()
        wrong = torch.utils.data.DistributedSampler(data, num_replicas=world_size + 1, rank=(rank + 1) % world_size)
        idist.auto_dataloader(data, sampler=wrong)
    warned = [str(w.message).split(":")[0] for w in caught]
    return {"exact": exact, "padded": padded, "errors": errors, "reproducible": reproducible, "warned": warned}


def make_data() -> torch.utils.data.TensorDataset:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(SAMPLES, FEATURES, generator=generator)
    targets = torch.randint(0, CLASSES, (SAMPLES,), generator=generator)
    return torch.utils.data.TensorDataset(inputs, targets)


def train(epochs: int = 2) -> dict[str, torch.Tensor]:
    """Train a small MLP with cadence.Engine; DDP when distributed. Returns the final weights."""
    torch.manual_seed(0)
    model = idist.auto_model(nn.Sequential(nn.Linear(FEATURES, 16), nn.ReLU(), nn.Linear(16, CLASSES)))
    optimizer = idist.auto_optim(torch.optim.SGD(model.parameters(), lr=0.5))
    loader = idist.auto_dataloader(make_data(), batch_size=GLOBAL_BATCH, sharding="pad")
    loss_fn = nn.CrossEntropyLoss()

    def step(engine: Engine[float], batch: list[torch.Tensor]) -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return float(loss.item())

    Engine(step).run(loader, max_epochs=epochs)
    plain = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    return {name: value.detach().cpu().clone() for name, value in plain.state_dict().items()}


def check_everything(local_rank: int, workdir: str) -> dict[str, Any]:
    return {
        "context": context(),
        "collectives": collectives(),
        "ordering": rank_ordering(workdir),
        "sharding": sharding(),
        "weights": train(),
    }


def fail_at_iteration(local_rank: int, failing_rank: int, iteration: int) -> None:
    def step(engine: Engine[float], batch: int) -> float:
        if idist.get_rank() == failing_rank and engine.state.iteration == iteration:
            raise ValueError(f"planned failure at iteration {iteration}")
        return idist.all_reduce(float(batch))

    Engine(step).run(range(1000), max_epochs=1)


def hang_on_rank_1(local_rank: int) -> None:
    if idist.get_rank() == 1:
        time.sleep(60)
    idist.all_reduce(1.0)


def exit_with(local_rank: int, code: int) -> None:
    idist.barrier()
    sys.exit(code)


def spin(local_rank: int, folder: str) -> None:
    """Write this process's pid, then keep training until killed (for launcher-death tests)."""
    (Path(folder) / f"pid-{idist.get_rank()}").write_text(str(os.getpid()))
    while True:
        idist.all_reduce(1.0)
        time.sleep(0.05)


def spin_until_terminated(local_rank: int, folder: str) -> None:
    """As :func:`spin`, but SIGTERM ends the worker with ``sys.exit(143)`` (as ``Preemption`` does)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    spin(local_rank, folder)


def killed_on_rank_1(local_rank: int) -> None:
    if idist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    idist.all_reduce(1.0)


def restarted(local_rank: int) -> dict[str, Any]:
    """Rank 1 dies after a collective in torchrun's first round of workers; the next round finishes."""
    gathered = idist.all_gather(idist.get_rank())
    round_ = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
    if round_ == 0 and idist.get_rank() == 1:
        os._exit(3)
    return {"round": round_, "gathered": gathered}


def multinode(local_rank: int) -> dict[str, Any]:
    return {"context": context(), "gathered": idist.all_gather(idist.get_node_rank() * 10 + local_rank)}


JOBS = {"everything": check_everything, "multinode": multinode, "restarted": restarted}

if __name__ == "__main__" and sys.argv[1] in ("spin", "spin-exit"):  # a launcher of two workers, to be killed
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        parallel.run(spin if sys.argv[1] == "spin" else spin_until_terminated, sys.argv[2])
elif __name__ == "__main__":
    job, outdir = sys.argv[1], sys.argv[2]
    with idist.Parallel("gloo", timeout=60) as parallel:
        args = (outdir,) if job == "everything" else ()
        (result,) = parallel.run(JOBS[job], *args)
        torch.save(result, Path(outdir) / f"rank{idist.get_rank()}.pt")
