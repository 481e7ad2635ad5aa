"""Training jobs for the FSDP tests: the same model and data with DDP, FSDP2, or in one plain process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from cadence import distributed as idist
from cadence.engine import Engine, Events
from cadence.handlers import Checkpoint, DiskSaver, FsspecSaver, ShardedDiskSaver, ShardedFsspecSaver
from cadence.handlers._fsdp_state import full_state, optimizer_owners
from cadence.handlers.sharded import read_metadata

GLOBAL_BATCH, STEPS = 8, 6


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def batch(iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(iteration)
    x, y = torch.randn(GLOBAL_BATCH, 6, generator=g), torch.randint(0, 3, (GLOBAL_BATCH,), generator=g)
    world, rank = idist.get_world_size(), idist.get_rank()
    share = GLOBAL_BATCH // world
    return x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]


def train(
    local_rank: int,
    strategy: str | None,
    folder: str | None,
    stop_at: int | None = None,
    resume: bool = False,
    sharded: bool = False,
    async_save: bool = False,
) -> dict[str, Any]:
    """Train STEPS steps (stopping after ``stop_at``); checkpoint every step into ``folder`` (one file, or one
    DCP folder with ``sharded``); return full states."""
    model = idist.auto_model(make_model(), strategy=strategy) if strategy else make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(engine: Engine[Any], index: int) -> float:
        x, y = batch(engine.state.iteration)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer: Engine[Any] = Engine(step)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    if folder is not None:
        if "://" in folder:  # a URL: an object store (tests/handlers/test_s3_checkpoint.py)
            saver: Any = (ShardedFsspecSaver if sharded else FsspecSaver)(folder, require_empty=False)
        else:
            saver = (ShardedDiskSaver if sharded else DiskSaver)(folder, require_empty=False)
        checkpoint = Checkpoint(to_save, saver, n_saved=2 if sharded else None, async_save=async_save)
        trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
        if resume:
            Checkpoint.resume(to_save, folder)
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda engine: engine.terminate())
    trainer.run(range(STEPS))
    owners = optimizer_owners(to_save)
    states = {name: full_state(obj, owners, 0) for name, obj in (("model", model), ("optimizer", optimizer))}
    if states["model"] is None:  # not sharded
        inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        states = {"model": inner.state_dict(), "optimizer": optimizer.state_dict()}
    per_rank_bytes = sum(_local_bytes(p) for p in model.parameters()) + sum(
        _local_bytes(v) for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)
    )
    return {**states, "iteration": trainer.state.iteration, "bytes": per_rank_bytes, "files": _files(folder)}


def _local_bytes(tensor: torch.Tensor) -> int:
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return int(local.numel() * local.element_size())


def _files(folder: str | None) -> list[str]:
    if folder is None or "://" in folder or idist.get_rank() != 0:  # rank 0 removes displaced folders: only it lists
        return []
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*") if path.is_file())


def train_on_loader(
    local_rank: int, strategy: str | None, folder: str, stop_at: int | None = None, resume: bool = False
) -> dict[str, Any]:
    """Two epochs of a deterministic supervised trainer on a seeded ``auto_dataloader`` (global batch
    GLOBAL_BATCH, split among the ranks), with a sharded checkpoint every iteration; return the full model."""
    from torch.utils.data import TensorDataset

    from cadence.engine.supervised import create_supervised_trainer

    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(96, 6, generator=g), torch.randint(0, 3, (96,), generator=g))
    loader = idist.auto_dataloader(data, batch_size=GLOBAL_BATCH, seed=3)
    model = idist.auto_model(make_model(), strategy=strategy) if strategy else make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss(), deterministic=True, seed=5)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, Checkpoint(to_save, ShardedDiskSaver(folder, require_empty=False), n_saved=1)
    )
    if resume:
        Checkpoint.resume(to_save, folder)
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda engine: engine.terminate())
    seen: list[list[int]] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: seen.append([engine.state.iteration]))
    trainer.run(loader, max_epochs=2)
    owners = optimizer_owners(to_save)
    state = full_state(model, owners, 0)
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    return {"model": inner.state_dict() if state is None else state, "iteration": trainer.state.iteration}


class Net(nn.Module):
    """A model of the user's own code: dynamo skips FSDP2's hooks (torch marks them ``torch._dynamo.disable``)
    and compiles this ``forward``, which it would not trace as a frame of ``torch.nn`` (``nn.Sequential``)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(6, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output: torch.Tensor = self.head(torch.relu(self.body(x)))
        return output


def train_compiled(
    local_rank: int, folder: str, stop_at: int | None = None, resume: bool = False, shard: bool = True
) -> dict[str, Any]:
    """STEPS steps of ``torch.compile`` of an FSDP2-sharded ``Net`` (``fully_shard``, then compile), checkpointed
    every step as a sharded DCP folder (stopping after ``stop_at``); return the full model state, how many
    graphs inductor compiled, and the model keys the last checkpoint holds. ``shard=False``: neither sharded
    nor compiled."""
    graphs: list[torch.fx.GraphModule] = []

    def inductor(graph: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        graphs.append(graph)
        return torch._inductor.compile(graph, example_inputs)

    torch.manual_seed(0)
    model = Net()
    run: nn.Module = model
    if shard:
        run = torch.compile(idist.auto_model(model, strategy="fsdp"), backend=inductor)  # type: ignore[assignment]
    optimizer = torch.optim.Adam(run.parameters(), lr=0.01)

    def step(engine: Engine[Any], index: int) -> float:
        x, y = batch(engine.state.iteration)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(run(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer: Engine[Any] = Engine(step)
    to_save = {"model": run, "optimizer": optimizer, "trainer": trainer}
    checkpoint = Checkpoint(to_save, ShardedDiskSaver(folder, require_empty=False), n_saved=1)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    if resume:
        Checkpoint.resume(to_save, folder)
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda engine: engine.terminate())
    trainer.run(range(STEPS))
    state = full_state(run, optimizer_owners(to_save), 0) if shard else model.state_dict()
    last = checkpoint.last_checkpoint
    stored = sorted(read_metadata(Path(last)).state_dict_metadata) if last and idist.get_rank() == 0 else []
    return {"model": state, "graphs": len(graphs), "iteration": trainer.state.iteration, "stored": stored}
