"""Per-iteration cost of the observability handlers (Throughput, MemoryMonitor, SlowRankDetector): an engine with
each attached, side by side with the plain engine, on a trivial step (the handlers' own cost) and on a small
training step (what that cost is beside real work).

Each case is timed in the same process, interleaved with the others, and the best of several repeats is kept,
so that the ratios hold on a noisy machine even when the absolute numbers do not. One process: the
collectives are those of a job of one rank.

Run: ``.venv/bin/python benchmarks/observability.py [--iterations N] [--repeats R] [--every K]``
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cadence import Engine
from cadence.handlers.memory import MemoryMonitor
from cadence.handlers.slow_rank import SlowRankDetector
from cadence.handlers.throughput import Throughput

BATCH = 32
Attach = Callable[[Engine[Any]], None]


def cases(every: int) -> dict[str, Attach]:
    """What each row attaches to the engine."""

    def all_three(engine: Engine[Any]) -> None:
        SlowRankDetector(every=every).attach(engine)
        Throughput(every=every).attach(engine)
        MemoryMonitor(every=every).attach(engine)

    return {
        "plain engine": lambda engine: None,
        f"Throughput(every={every}, batch_size={BATCH})": lambda e: Throughput(every=every, batch_size=BATCH).attach(e),
        f"Throughput(every={every})": lambda engine: Throughput(every=every).attach(engine),
        f"Throughput(every={every}, items=...)": lambda engine: Throughput(
            every=every, items=lambda batch: batch[0].numel()
        ).attach(engine),
        f"MemoryMonitor(every={every})": lambda engine: MemoryMonitor(every=every).attach(engine),
        f"SlowRankDetector(every={every})": lambda engine: SlowRankDetector(every=every).attach(engine),
        "all three": all_three,
    }


def trivial_step(engine: Engine[Any], batch: Any) -> None:
    return None


def training_step() -> Callable[[Engine[Any], Any], float]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(engine: Engine[Any], batch: Any) -> float:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def best_times(
    step: Callable[[Engine[Any], Any], Any], data: list[Any], attachments: dict[str, Attach], repeats: int
) -> dict[str, float]:
    best = dict.fromkeys(attachments, float("inf"))
    names = list(attachments)
    for repeat in range(repeats):  # interleaved, each repeat from another case: a noisy neighbour hits all alike
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            engine = Engine(step)
            attachments[name](engine)
            start = time.perf_counter()
            engine.run(data)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def table(title: str, times: dict[str, float], iterations: int) -> None:
    print(f"\n{title}: ns per iteration, best of the repeats\n")
    print("| handlers | ns / iteration | + ns vs plain | / plain |")
    print("|---|---|---|---|")
    plain = times["plain engine"]
    for name, seconds in times.items():
        ns, extra = seconds / iterations * 1e9, (seconds - plain) / iterations * 1e9
        print(f"| {name} | {ns:.0f} | {extra:+.0f} | {seconds / plain:.3f}x |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100_000, help="iterations of the trivial step per case")
    parser.add_argument("--step-iterations", type=int, default=2_000, help="iterations of the training step")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--every", type=int, default=100, help="the handlers' window, in iterations")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the engine logs at each run's start and end: keep the timings about the loop
    torch.set_num_threads(1)  # on a small or shared machine, threads waiting on each other would swamp the ratios
    batch = (torch.randn(BATCH, 64), torch.randint(0, 10, (BATCH,)))
    attachments = cases(args.every)
    print(f"one process, batches of {BATCH}; {args.repeats} repeats, interleaved")
    trivial = best_times(trivial_step, [batch] * args.iterations, attachments, args.repeats)
    table(f"trivial step, {args.iterations} iterations", trivial, args.iterations)
    training = best_times(training_step(), [batch] * args.step_iterations, attachments, args.repeats)
    table(
        f"training step (MLP 64-128-10, SGD, one thread), {args.step_iterations} iterations",
        training,
        args.step_iterations,
    )


if __name__ == "__main__":
    main()
