"""Per-iteration overhead of the engine, side by side with a bare Python loop and with Ignite.

Each row runs a trivial process function over the same data; the timings of one row are taken in
the same process, interleaved, and the best of several repeats is kept, so the ratios are
meaningful on a noisy machine even when the absolute numbers are not. The bare loop of the row without
handlers is the least an engine must do (``for batch in data: state.iteration += 1; state.output =
step(engine, batch)`` on a plain object); with handlers it also calls them, ``handler(state)``, as an engine
calls ``handler(engine)``.

A second table runs one long epoch in a fresh interpreter per contender: what a real run (a few long
epochs) pays, where the first table's repeats give CPython every chance to specialize the loop's bytecode.

``--compiled-step`` adds a table for a real training step (a small MLP, SGD, on one CPU thread): the eager
model and ``torch.compile(model)`` under cadence's ``create_supervised_trainer`` and in a bare loop, side by side.

Run: ``.venv/bin/python benchmarks/overhead.py [--iterations N] [--repeats R] [--compiled-step]``
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


class BareState:
    """The least state an engine keeps: the iteration count and the step's output."""

    iteration = 0
    output: Any = None


def bare_loop(data: list[int], epochs: int, row: Row) -> None:
    """The floor: the least an engine must do (count the iteration on a state object, keep the step's output),
    calling the handlers by hand when asked."""
    plain, filtered = row
    state = BareState()
    if not plain and not filtered:
        for _ in range(epochs):
            for batch in data:
                state.iteration += 1
                state.output = step(state, batch)
        return
    calls = [lambda state: None] * plain
    filtered_calls = [lambda state: None] * filtered
    for _ in range(epochs):
        for batch in data:
            state.iteration += 1
            state.output = step(state, batch)
            for call in calls:
                call(state)
            if state.iteration % 100 == 0:
                for call in filtered_calls:
                    call(state)


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


FRESH_RUN = """
import logging, sys, time
logging.disable(logging.CRITICAL)
sys.path.insert(0, {here!r})
from overhead import BareState, bare_loop, engine_run, step
data = list(range({n}))
if {name!r} == "bare loop":
    run = bare_loop
else:
    import importlib
    run = engine_run(importlib.import_module({name!r} + (".engine" if {name!r} == "ignite" else "")))
started = time.perf_counter()
run(data, 1, (0, 0))
print(time.perf_counter() - started)
"""


def fresh_epoch_table(names: list[str], iterations: int, repeats: int) -> None:
    """ns per iteration of one epoch in a fresh interpreter, without handlers: best of ``repeats`` processes."""
    import subprocess
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parent)
    best = dict.fromkeys(names, float("inf"))
    for _ in range(repeats):
        for name in names:  # interleaved, one process each
            code = FRESH_RUN.format(here=here, n=iterations, name=name)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            best[name] = min(best[name], float(out.stdout.split()[-1]))
    print(f"\none epoch of {iterations} iterations in a fresh interpreter, no handlers, best of {repeats};", end=" ")
    print("ns per iteration\n")
    print(f"| {' | '.join(names)} | cadence / bare |" + (" ignite / cadence |" if "ignite" in best else ""))
    print("|" + "---|" * (len(names) + 1 + ("ignite" in best)))
    cells = " | ".join(f"{best[name] / iterations * 1e9:.0f}" for name in names)
    vs_ignite = f" {best['ignite'] / best['cadence']:.1f}x |" if "ignite" in best else ""
    print(f"| {cells} | {best['cadence'] / best['bare loop']:.2f}x |{vs_ignite}")


def best_time(fn: Callable[[list[int], int, Row], None], data: list[int], epochs: int, row: Row, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(data, epochs, row)
        best = min(best, time.perf_counter() - start)
    return best


def compiled_step_table(iterations: int, repeats: int) -> None:
    """Microseconds per training step, eager vs ``torch.compile``, under cadence's trainer and in a bare loop."""
    import torch
    from torch import nn

    from cadence.engine import create_supervised_trainer

    torch.set_num_threads(1)  # on a small or shared machine, threads waiting on each other would swamp the ratios
    torch.manual_seed(0)
    width = 256
    data = [(torch.randn(128, width), torch.randn(128, 1)) for _ in range(8)]
    epochs = max(1, iterations // len(data))

    def cadence_run(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        create_supervised_trainer(model, optimizer, nn.MSELoss()).run(data, max_epochs=epochs)

    def bare_run(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        model.train()
        for _ in range(epochs):
            for x, y in data:
                optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
                loss.item()

    blocks = [nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.GELU()) for _ in range(2)]
    eager = nn.Sequential(*blocks, nn.Linear(width, 1))
    compiled: nn.Module = torch.compile(eager)  # type: ignore[assignment]  # an OptimizedModule
    optimizer = torch.optim.SGD(eager.parameters(), lr=1e-3)
    started = time.perf_counter()
    bare_run(compiled, optimizer)  # compiles (the first call) outside the timings
    compile_s = time.perf_counter() - started
    runs = {"cadence": cadence_run, "bare loop": bare_run}
    best = {(name, kind): float("inf") for name in runs for kind in ("eager", "compiled")}
    for _ in range(repeats):  # interleaved, so that a noisy neighbour hits every case alike
        for name, run in runs.items():
            for kind, model in (("eager", eager), ("compiled", compiled)):
                start = time.perf_counter()
                run(model, optimizer)
                best[name, kind] = min(best[name, kind], time.perf_counter() - start)
    steps = epochs * len(data)
    print(f"\ntraining step of an MLP (2 x Linear-LayerNorm-GELU, width {width}), batch 128, SGD, one thread;")
    print(f"{steps} steps, best of {repeats}; µs per step")
    print(f"(the first compiled pass, compilation included, took {compile_s:.1f} s)\n")
    print("| loop | eager | compiled | compiled / eager |")
    print("|---|---|---|---|")
    for name in runs:
        eager_us, compiled_us = (best[name, kind] / steps * 1e6 for kind in ("eager", "compiled"))
        print(f"| {name} | {eager_us:.0f} | {compiled_us:.0f} | {compiled_us / eager_us:.2f}x |")
    ratio = {kind: best["cadence", kind] / best["bare loop", kind] for kind in ("eager", "compiled")}
    print(f"| cadence / bare loop | {ratio['eager']:.3f}x | {ratio['compiled']:.3f}x | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fresh-iterations", type=int, default=1_000_000, help="the fresh-interpreter epoch's length")
    parser.add_argument("--compiled-step", action="store_true", help="also time a compiled training step")
    parser.add_argument("--step-iterations", type=int, default=400, help="training steps per compiled-step case")
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
    fresh_epoch_table(list(contenders), args.fresh_iterations, args.repeats)
    if args.compiled_step:
        compiled_step_table(args.step_iterations, args.repeats)


if __name__ == "__main__":
    main()
