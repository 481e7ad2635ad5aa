"""Per-iteration overhead of the engine, side by side with a bare Python loop and with Ignite.

Each row runs a trivial process function over the same data; the timings of one row are taken in
the same process, interleaved, and the best of several repeats is kept, so the ratios are
meaningful on a noisy machine even when the absolute numbers are not.

Run: ``.venv/bin/python benchmarks/overhead.py [--iterations N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

import cadence


def step(engine: Any, batch: int) -> int:
    return batch


Row = tuple[int, int]  # (plain handlers, handlers filtered with every=100)


def bare_loop(data: list[int], epochs: int, row: Row) -> None:
    """The floor: a for loop calling the step and, when asked, the handlers by hand."""
    plain, filtered = row
    calls = [lambda: None] * plain
    filtered_calls = [lambda: None] * filtered
    iteration = 0
    for _ in range(epochs):
        for batch in data:
            iteration += 1
            step(None, batch)
            for call in calls:
                call()
            if iteration % 100 == 0:
                for call in filtered_calls:
                    call()


def engine_run(module: Any) -> Callable[[list[int], int, Row], None]:
    def run(data: list[int], epochs: int, row: Row) -> None:
        plain, filtered = row
        engine = module.Engine(step)
        for _ in range(plain):
            engine.add_event_handler(module.Events.ITERATION_COMPLETED, lambda e: None)
        for _ in range(filtered):
            engine.add_event_handler(module.Events.ITERATION_COMPLETED(every=100), lambda e: None)
        engine.run(data, max_epochs=epochs)

    return run


def best_time(fn: Callable[[list[int], int, Row], None], data: list[int], epochs: int, row: Row, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(data, epochs, row)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # Ignite logs at run start/end; keep the comparison about the loop
    contenders: dict[str, Callable[[list[int], int, Row], None]] = {
        "bare loop": bare_loop,
        "cadence": engine_run(cadence),
    }
    try:
        import ignite.engine

        contenders["ignite"] = engine_run(ignite.engine)
    except ImportError:
        print("(ignite not installed: its column is skipped)")
    data = list(range(args.iterations // args.epochs))
    total = len(data) * args.epochs
    print(f"{total} iterations ({args.epochs} epochs), best of {args.repeats}; ns per iteration\n")
    header = f"| handlers | {' | '.join(contenders)} | cadence / bare | ignite / cadence |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    rows: dict[str, Row] = {
        "0": (0, 0),
        "3": (3, 0),
        "10": (10, 0),
        "10 filtered (every=100)": (0, 10),
        "3 + 1 filtered (every=100)": (3, 1),
    }
    for label, row in rows.items():
        times = {name: best_time(fn, data, args.epochs, row, args.repeats) for name, fn in contenders.items()}
        ns = {name: t / total * 1e9 for name, t in times.items()}
        cells = " | ".join(f"{ns[name]:.0f}" for name in contenders)
        vs_ignite = f"{times['ignite'] / times['cadence']:.1f}x" if "ignite" in times else "n/a"
        print(f"| {label} | {cells} | {times['cadence'] / times['bare loop']:.2f}x | {vs_ignite} |")


if __name__ == "__main__":
    main()
