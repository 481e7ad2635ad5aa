"""DDP against FSDP2: per-rank memory of the training state, and training throughput of the digits demo model.

Both parts run in one invocation, with processes spawned by ``cadence.distributed.Parallel`` (gloo on
127.0.0.1, ``--threads`` torch threads per process, 1 by default as torchrun does):

1. **Memory.** In 2 ranks, each model is built with the same seed, wrapped with
   ``auto_model(model, strategy="ddp")`` or ``auto_model(model, strategy="fsdp")`` (FSDP2's ``fully_shard``
   on every direct child with parameters, then the root), given an Adam optimizer built from the wrapped
   model's parameters, and trained one step. Each rank then counts the bytes it holds: parameters,
   gradients and Adam's state (``exp_avg``, ``exp_avg_sq``, ``step``), an FSDP ``DTensor`` counted by its
   local shard (``.to_local()``). Models: an MLP of ``--layers`` ``Linear(--width, --width)`` (25M parameters
   by default) and the demo's ``make_model()``.
2. **Throughput.** The demo model trains on the digits data (the demo's global batch, split among the
   processes; SGD with momentum, as the demo) with DDP and FSDP in 1 and 2 processes: a warm-up epoch, then
   ``--epochs`` timed ones. Each rank's run time is split into the process function (forward, backward,
   gradient reduction, optimizer step), fetching batches, and the rest: the engine's own loop and dispatch.
   In one process ``auto_model`` leaves the model as it is whatever the strategy, so the 1-process FSDP
   row applies ``fully_shard_model`` to a group of one to show what FSDP's machinery costs by itself.

Run: ``.venv/bin/python benchmarks/distributed.py [--epochs 10] [--repeats 3] [--layers 6 --width 2048]``
(about 6 minutes on a busy 2-core machine; most of it is starting processes). It prints Markdown tables.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from cadence import Engine, Events
from cadence import distributed as idist
from cadence.distributed.fsdp import fully_shard_model
from cadence.examples.digits import make_model

STRATEGIES = ("ddp", "fsdp")


class TimedLoader:
    """Wraps a data loader and adds up the time spent fetching batches."""

    def __init__(self, loader: torch.utils.data.DataLoader[Any]) -> None:
        self.loader = loader
        self.seconds = 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self.loader)
        while True:
            started = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - started
            yield batch


def digits() -> torch.utils.data.TensorDataset:
    """All 1797 digits (bundled with scikit-learn, no download) as 64 features in [0, 1]."""
    from sklearn.datasets import load_digits

    features, targets = load_digits(return_X_y=True)
    return torch.utils.data.TensorDataset(
        torch.tensor(features, dtype=torch.float32) / 16.0, torch.tensor(targets, dtype=torch.long)
    )


def wide_mlp(layers: int, width: int) -> nn.Module:
    """``layers`` square linear layers with ReLUs between them: ``layers * (width**2 + width)`` parameters."""
    blocks: list[nn.Module] = []
    for _ in range(layers):
        blocks += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*blocks[:-1])


def local_bytes(tensor: torch.Tensor) -> int:
    """Bytes this rank holds for ``tensor``: the local shard of an FSDP ``DTensor``, else the whole tensor."""
    to_local: Callable[[], torch.Tensor] | None = getattr(tensor, "to_local", None)
    local = tensor if to_local is None else to_local()
    return local.numel() * local.element_size()


def held_bytes(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """This rank's bytes of parameters, gradients and optimizer state."""
    parameters = list(model.parameters())
    state = [value for entry in optimizer.state.values() for value in entry.values() if isinstance(value, torch.Tensor)]
    return {
        "parameters": sum(local_bytes(p) for p in parameters),
        "gradients": sum(local_bytes(p.grad) for p in parameters if p.grad is not None),
        "optimizer": sum(local_bytes(value) for value in state),
    }


def memory(local_rank: int, models: dict[str, tuple[int, int]], threads: int) -> dict[str, dict[str, int]]:
    """For each model and strategy: wrap, one Adam step, and count this rank's bytes."""
    torch.set_num_threads(threads)
    found: dict[str, dict[str, int]] = {}
    for name, (layers, width) in models.items():
        for strategy in STRATEGIES:
            torch.manual_seed(0)
            plain = make_model() if name == "demo" else wide_mlp(layers, width)
            count = sum(p.numel() for p in plain.parameters())
            model = idist.auto_model(plain, strategy=strategy)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            inputs = torch.randn(8, 64 if name == "demo" else width)
            optimizer.zero_grad()
            model(inputs).square().mean().backward()
            optimizer.step()
            found[f"{name}/{strategy}"] = {**held_bytes(model, optimizer), "count": count}
            del model, optimizer, plain
            idist.barrier()
    return found


def measure(local_rank: int, strategy: str, epochs: int, batch_size: int, threads: int) -> dict[str, float]:
    """Train the demo model one warm-up epoch and ``epochs`` timed ones; return this rank's timings."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dataset = digits()
    if strategy == "fsdp" and idist.get_world_size() == 1:
        model = fully_shard_model(make_model())
    else:
        model = idist.auto_model(make_model(), strategy=strategy)
    optimizer = idist.auto_optim(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    loader = TimedLoader(idist.auto_dataloader(dataset, batch_size=batch_size, shuffle=True))
    loss_fn = nn.CrossEntropyLoss()
    step_seconds = [0.0]
    samples = [0]

    def train_step(engine: Engine[float], batch: list[torch.Tensor]) -> float:
        started = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        samples[0] += len(batch[1])
        step_seconds[0] += time.perf_counter() - started
        return float(loss.item())

    trainer = Engine(train_step)
    sampler = loader.loader.sampler

    @trainer.on(Events.EPOCH_STARTED)
    def reshuffle(engine: Engine[float]) -> None:
        if isinstance(sampler, torch.utils.data.DistributedSampler):
            sampler.set_epoch(engine.state.epoch)

    trainer.run(loader, max_epochs=1)  # warm-up
    idist.barrier()
    loader.seconds, step_seconds[0], samples[0] = 0.0, 0.0, 0
    started = time.perf_counter()
    trainer.run(loader, max_epochs=1 + epochs)
    total = time.perf_counter() - started
    return {
        "total": total,
        "step": step_seconds[0],
        "data": loader.seconds,
        "samples": float(samples[0]),
        "iterations": float(epochs * len(loader)),
    }


def throughput_row(strategy: str, processes: int, epochs: int, batch_size: int, threads: int) -> dict[str, float]:
    with idist.Parallel("gloo", nproc_per_node=processes, timeout=300) as parallel:
        ranks: list[dict[str, float]] = parallel.run(measure, strategy, epochs, batch_size, threads)
    wall = max(rank["total"] for rank in ranks)
    iterations = ranks[0]["iterations"]
    step_share = sum(rank["step"] / rank["total"] for rank in ranks) / len(ranks)
    data_share = sum(rank["data"] / rank["total"] for rank in ranks) / len(ranks)
    engine_seconds = sum(rank["total"] - rank["step"] - rank["data"] for rank in ranks) / len(ranks)
    return {
        "samples_per_s": sum(rank["samples"] for rank in ranks) / wall,
        "step_ms": 1000 * wall / iterations,
        "engine_pct": 100 * (1 - step_share - data_share),
        "engine_us_per_iter": 1e6 * engine_seconds / iterations,
    }


def size(count: int) -> str:
    """``count`` bytes in MB or kB (powers of 10)."""
    return f"{count / 1e6:,.1f} MB" if count >= 1e6 else f"{count / 1e3:,.1f} kB"


def print_memory(ranks: list[dict[str, dict[str, int]]], models: dict[str, tuple[int, int]]) -> None:
    columns = "parameters | gradients | Adam state | parameters + Adam state | FSDP / DDP"
    print(f"| model | parameters | strategy | {columns} |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (layers, width) in models.items():
        label = "demo `make_model()`" if name == "demo" else f"MLP {layers} x `Linear({width}, {width})`"
        worst = {
            strategy: max(
                rank[f"{name}/{strategy}"]["parameters"] + rank[f"{name}/{strategy}"]["optimizer"] for rank in ranks
            )
            for strategy in STRATEGIES
        }
        for strategy in STRATEGIES:
            largest = max(ranks, key=lambda rank: rank[f"{name}/{strategy}"]["parameters"])[f"{name}/{strategy}"]
            ratio = f"{100 * worst['fsdp'] / worst['ddp']:.1f}%" if strategy == "fsdp" else ""
            print(
                f"| {label} | {largest['count']:,} | {strategy} | {size(largest['parameters'])} "
                f"| {size(largest['gradients'])} | {size(largest['optimizer'])} | {size(worst[strategy])} "
                f"| {ratio} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per throughput run")
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (the demo's), split among processes")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every process")
    parser.add_argument("--repeats", type=int, default=3, help="the fastest of this many throughput runs is shown")
    parser.add_argument("--layers", type=int, default=6, help="linear layers of the large model")
    parser.add_argument("--width", type=int, default=2048, help="width of the large model")
    args = parser.parse_args()

    models = {"large": (args.layers, args.width), "demo": (0, 0)}
    with idist.Parallel("gloo", nproc_per_node=2, timeout=600) as parallel:
        ranks: list[dict[str, dict[str, int]]] = parallel.run(memory, models, args.threads)
    print("Per-rank bytes after one Adam step, 2 gloo ranks (the larger rank's; MB = 10^6 bytes):\n")
    print_memory(ranks, models)

    rows: list[tuple[str, int, dict[str, float]]] = []
    for strategy in STRATEGIES:
        for processes in args.processes:
            runs = [
                throughput_row(strategy, processes, args.epochs, args.batch_size, args.threads)
                for _ in range(args.repeats)
            ]
            rows.append((strategy, processes, max(runs, key=lambda found: found["samples_per_s"])))
    base = rows[0][2]["samples_per_s"]
    print(
        f"\nDigits demo model, global batch {args.batch_size}, {args.epochs} epochs, {args.threads} thread(s) per "
        f"process, gloo on 127.0.0.1, best of {args.repeats}:\n"
    )
    print(
        "| strategy | processes | samples/s | vs DDP, 1 process | step ms | engine share of the step | engine us/iter |"
    )
    print("|---|---|---|---|---|---|---|")
    for strategy, processes, found in rows:
        print(
            f"| {strategy} | {processes} | {found['samples_per_s']:,.0f} | {found['samples_per_s'] / base:.2f}x "
            f"| {found['step_ms']:.2f} | {found['engine_pct']:.1f}% | {found['engine_us_per_iter']:.1f} |"
        )


if __name__ == "__main__":
    main()
