"""Training throughput of the digits demo model in 1 and 2 processes, and the engine's share of a step.

Each row spawns its processes with ``cadence.distributed.Parallel`` (gloo on 127.0.0.1), trains the demo
MLP with ``auto_model``/``auto_dataloader`` and a plain process function, and splits every rank's run
time into the process function (forward, backward, DDP all-reduce, optimizer step), fetching batches
from the data loader, and the rest: the engine's own loop and event dispatch.

Every process uses ``--threads`` torch threads (default 1, as torchrun does), so 2 processes use twice the
cores of 1. Run: ``.venv/bin/python benchmarks/distributed.py [--epochs N] [--batch-size B] [--processes 1 2]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from cadence import Engine, Events
from cadence import distributed as idist
from cadence.examples.digits import make_model


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


def measure(local_rank: int, epochs: int, batch_size: int, threads: int) -> dict[str, float]:
    """Train for one warm-up epoch and ``epochs`` timed ones; return this rank's timings."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dataset = digits()
    model = idist.auto_model(make_model())
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


def row(processes: int, epochs: int, batch_size: int, threads: int) -> dict[str, float]:
    with idist.Parallel("gloo", nproc_per_node=processes, timeout=300) as parallel:
        ranks: list[dict[str, float]] = parallel.run(measure, epochs, batch_size, threads)
    wall = max(rank["total"] for rank in ranks)
    shares = {key: sum(rank[key] / rank["total"] for rank in ranks) / len(ranks) for key in ("step", "data")}
    iterations = ranks[0]["iterations"]
    return {
        "processes": processes,
        "samples_per_s": sum(rank["samples"] for rank in ranks) / wall,
        "step_ms": 1000 * wall / iterations,
        "process_fn_pct": 100 * shares["step"],
        "data_pct": 100 * shares["data"],
        "engine_pct": 100 * (1 - shares["step"] - shares["data"]),
        "engine_us_per_iter": 1e6 * sum(r["total"] - r["step"] - r["data"] for r in ranks) / len(ranks) / iterations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch, split among the processes")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every process")
    parser.add_argument("--repeats", type=int, default=3, help="the fastest of this many runs is shown")
    args = parser.parse_args()
    rows = []
    for processes in args.processes:
        runs = [row(processes, args.epochs, args.batch_size, args.threads) for _ in range(args.repeats)]
        rows.append(max(runs, key=lambda found: found["samples_per_s"]))
    base = rows[0]["samples_per_s"]
    print(
        f"digits MLP, global batch {args.batch_size}, {args.epochs} epochs, {args.threads} thread(s) per process, "
        f"gloo on 127.0.0.1, best of {args.repeats}"
    )
    header = "processes  samples/s  speed-up  step ms  process fn %  data %  engine %  engine us/iter"
    print(header)
    print("-" * len(header))
    for found in rows:
        print(
            f"{found['processes']:>9d}  {found['samples_per_s']:>9.0f}  {found['samples_per_s'] / base:>7.2f}x"
            f"  {found['step_ms']:>7.3f}  {found['process_fn_pct']:>12.1f}  {found['data_pct']:>6.1f}"
            f"  {found['engine_pct']:>8.2f}  {found['engine_us_per_iter']:>14.1f}"
        )


if __name__ == "__main__":
    main()
