"""Time to resume: from process start to the first trained step after ``Checkpoint.resume``, against ``torch.load``.

1. **Against ``torch.load``.** A ~50M-parameter MLP with Adam (about 600 MB of state) is checkpointed by
   ``Checkpoint`` in the middle of an epoch. Each case then runs in a fresh Python process, from process start
   to its first trained step: cadence (``Checkpoint.resume``, then ``trainer.run`` of a
   ``reproducible_dataloader`` positioned at the checkpoint's batch) and the raw figure (``torch.load`` of the
   same file, ``load_state_dict`` of the model and the optimizer, one plain step on the first batch of a plain
   ``DataLoader``). Each is split into imports (interpreter start included), building the model, optimizer
   and data (the same code in both), loading, positioning the data (up to the first batch in hand) and the
   first step. The cases take turns for ``--rounds`` rounds after one untimed run of each (the file in the
   page cache, the bytecode compiled: as an installed package, not with ``PYTHONDONTWRITEBYTECODE``).
2. **Positioning the data at batch 10 and at batch 10,000 of an epoch**, in this process: an engine is run to
   that batch and its ``state_dict()`` taken (untimed); a fresh engine and a fresh loader load it, and the time
   from ``run()`` to the first iteration is measured, with cadence's ``reproducible_dataloader``, torchdata's
   ``StatefulDataLoader`` (if installed) and a plain ``DataLoader`` (re-read and discarded), taking turns.
3. **The same from process start in a 1,000,000-item epoch** at iteration ``--position`` (``--items 0``: not run).

Run: ``.venv/bin/python benchmarks/resume.py [--params 50] [--rounds 5] [--positions 10,10000] [--items N]
[--position K]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Items(Dataset[torch.Tensor]):
    """``length`` items of ``width`` floats, made in memory from their index."""

    def __init__(self, length: int, width: int) -> None:
        self.length, self.width = length, width

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.full((self.width,), (index % 97) / 97.0)


def build(params_millions: float, batches: int) -> tuple[nn.Module, torch.optim.Optimizer, Items]:
    """The model, its optimizer and ``batches`` batches of 8 items: the same in every case."""
    torch.manual_seed(0)
    width = round(math.sqrt(params_millions * 1e6 / 4))
    model = nn.Sequential(*(nn.Linear(width, width) for _ in range(4)))
    return model, torch.optim.Adam(model.parameters(), lr=1e-4), Items(batches * 8, width)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: torch.Tensor) -> float:
    optimizer.zero_grad()
    loss = model(batch).square().mean()
    loss.backward()
    optimizer.step()
    return float(loss.item())


def cadence_child(folder: str, params: float, batches: int) -> dict[str, float]:
    """From here (this module imported: torch) to the first trained step after ``Checkpoint.resume``."""
    from cadence import Engine, Events
    from cadence.data import reproducible_dataloader
    from cadence.handlers import Checkpoint

    stamps = {"imports": time.perf_counter()}
    model, optimizer, dataset = build(params, batches)
    data = reproducible_dataloader(dataset, 8, seed=0)
    trainer = Engine(lambda engine, batch: train_step(model, optimizer, batch))
    stamps["build"] = time.perf_counter()
    Checkpoint.resume({"model": model, "optimizer": optimizer, "trainer": trainer}, folder)
    stamps["load"] = time.perf_counter()

    def batch_in_hand(engine: Engine[Any]) -> None:
        stamps.setdefault("position", time.perf_counter())

    def first_step(engine: Engine[Any]) -> None:
        stamps["step"] = time.perf_counter()
        engine.terminate()

    trainer.add_event_handler(Events.GET_BATCH_COMPLETED, batch_in_hand)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, first_step)
    trainer.run(data)
    return stamps


def raw_child(path: str, params: float, batches: int) -> dict[str, float]:
    """From here (this module imported: torch) to one plain step after ``torch.load`` and ``load_state_dict``."""
    stamps = {"imports": time.perf_counter()}
    model, optimizer, dataset = build(params, batches)
    data = DataLoader(dataset, batch_size=8)
    stamps["build"] = time.perf_counter()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    stamps["load"] = time.perf_counter()
    batch = next(iter(data))
    stamps["position"] = time.perf_counter()
    train_step(model, optimizer, batch)
    stamps["step"] = time.perf_counter()
    return stamps


CHILDREN = {"cadence": cadence_child, "raw": raw_child}

SPLITS = {
    "imports": "imports (interpreter start included)",
    "build": "model, optimizer and data built",
    "load": "load (cadence: `Checkpoint.resume`; raw: `torch.load` + `load_state_dict`)",
    "position": "data positioned, first batch in hand",
    "step": "first step (forward, backward, Adam)",
}


def checkpoint_mid_epoch(folder: Path, params: float, batches: int, at: int) -> Path:
    """Train one step at batch ``at`` of the second epoch and save a checkpoint there; return its file."""
    from cadence import Engine, Events
    from cadence.data import reproducible_dataloader
    from cadence.handlers import Checkpoint

    model, optimizer, dataset = build(params, batches)
    trainer = Engine(lambda engine, batch: train_step(model, optimizer, batch))
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer, "trainer": trainer}, folder)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    trainer.load_state_dict({"epoch_length": batches, "iteration": batches + at, "max_epochs": 3})
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: engine.terminate())
    trainer.run(reproducible_dataloader(dataset, 8, seed=0))
    last = checkpoint.last_checkpoint
    assert last is not None
    return Path(last)


def child(name: str, argument: Path, params: float, batches: int, env: dict[str, str]) -> dict[str, float]:
    """Run case ``name`` in a fresh interpreter; the seconds from just before its start to each of its stamps."""
    start = time.perf_counter()  # CLOCK_MONOTONIC on Linux: the same clock in the child
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, str(argument), str(params), str(batches)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} case failed:\n{done.stderr}")
    stamps = json.loads(done.stdout.strip().splitlines()[-1])
    return {split: stamps[split] - start for split in SPLITS}


def against_torch_load(
    params: float, rounds: int, warmup: int, *, environment_as_is: bool = False
) -> dict[str, list[dict[str, float]]]:
    """The stamps of ``rounds`` runs of each case from process start, taking turns, after ``warmup`` untimed.

    The children write and read their bytecode in a folder of their own (unless ``environment_as_is``), as an
    installed package has it compiled: with ``PYTHONDONTWRITEBYTECODE`` set, every start would compile cadence.
    """
    root = Path(tempfile.mkdtemp(prefix="cadence-resume-bench-"))
    batches = 20_000
    try:
        file = checkpoint_mid_epoch(root / "checkpoints", params, batches, at=5_000)
        env = dict(os.environ)
        if not environment_as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        arguments = {"cadence": file.parent, "raw": file}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in arguments}
        for round_ in range(-warmup, rounds):
            for name in list(arguments)[:: 1 if round_ % 2 == 0 else -1]:
                stamps = child(name, arguments[name], params, batches, env)
                if round_ >= 0:
                    runs[name].append(stamps)
        return runs
    finally:
        shutil.rmtree(root, ignore_errors=True)


def spread(values: Iterable[float], scale: float = 1.0, digits: int = 2) -> str:
    values = [value * scale for value in values]
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def print_against_torch_load(runs: dict[str, list[dict[str, float]]], params: float) -> None:
    print(
        f"Resume of a {params:g}M-parameter MLP with Adam from process start, {len(runs['raw'])} rounds taking "
        "turns; seconds, median (min-max)\n"
    )
    print("| split | cadence | raw `torch.load` + `load_state_dict` + step |")
    print("|---|---|---|")
    previous = dict.fromkeys(runs, "")
    for split, label in SPLITS.items():
        cells = []
        for name in ("cadence", "raw"):
            cells.append(spread(s[split] - (s[previous[name]] if previous[name] else 0.0) for s in runs[name]))
            previous[name] = split
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    totals = {name: [s["step"] for s in stamps] for name, stamps in runs.items()}
    ratios = [c / r for c, r in zip(totals["cadence"], totals["raw"], strict=True)]
    print(f"| **process start to first trained step** | {spread(totals['cadence'])} | {spread(totals['raw'])} |")
    print(f"| cadence / raw, per round | {spread(ratios)} | 1 |")


# ---------------------------------------------------------------------------------------------- positioning
def loaders() -> dict[str, Callable[[Dataset[Any]], Iterable[Any]]]:
    from cadence.data import reproducible_dataloader

    kinds: dict[str, Callable[[Dataset[Any]], Iterable[Any]]] = {
        "cadence `reproducible_dataloader`": lambda dataset: reproducible_dataloader(dataset, 8, seed=0),
    }
    try:
        from torchdata.stateful_dataloader import StatefulDataLoader
    except ImportError:
        pass
    else:
        kinds["torchdata `StatefulDataLoader`"] = lambda dataset: StatefulDataLoader(dataset, 8, shuffle=True)
    kinds["plain `DataLoader` (re-read)"] = lambda dataset: DataLoader(dataset, 8, shuffle=True)
    return kinds


def time_to_position(make: Callable[[Dataset[Any]], Iterable[Any]], dataset: Dataset[Any], batch: int) -> float:
    """Seconds from ``run()`` to the first iteration of an engine loaded at ``batch`` of an epoch."""
    from cadence import Engine, Events

    engine = Engine(lambda engine, batch: batch)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=batch), lambda engine: engine.terminate())
    engine.run(make(dataset), max_epochs=2)  # untimed: a state at that batch, with the loader's own if any
    state = engine.state_dict()
    resumed = Engine(lambda engine, batch: batch)
    first: list[float] = []

    def first_iteration(engine: Engine[Any]) -> None:
        first.append(time.perf_counter())
        engine.terminate()

    resumed.add_event_handler(Events.ITERATION_COMPLETED, first_iteration)
    resumed.load_state_dict(state)
    data = make(dataset)
    start = time.perf_counter()
    resumed.run(data)
    return first[0] - start


def positioning(positions: list[int], rounds: int) -> dict[tuple[str, int], list[float]]:
    dataset = Items((max(positions) + 100) * 8, 64)
    kinds = loaders()
    times: dict[tuple[str, int], list[float]] = {(kind, at): [] for kind in kinds for at in positions}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plain DataLoader's "re-reading" warning, torchdata's deprecations
        for _ in range(rounds):
            for kind, at in times:
                times[kind, at].append(time_to_position(kinds[kind], dataset, at))
    return times


def print_positioning(times: dict[tuple[str, int], list[float]], positions: list[int], rounds: int) -> None:
    print(
        f"\nPositioning the data at a batch of an epoch (8 items of 64 floats per batch, made in memory), "
        f"{rounds} rounds taking turns; ms from `run()` to the first iteration, median (min-max)\n"
    )
    print("| data | " + " | ".join(f"at batch {at:,}" for at in positions) + " |")
    print("|---|" + "---|" * len(positions))
    for kind in dict.fromkeys(kind for kind, _ in times):
        print(f"| {kind} | " + " | ".join(spread(times[kind, at], 1000, 1) for at in positions) + " |")


# ------------------------------------------------------------------------- a long epoch, from process start
CASE = r"""
import sys, time, warnings
import torch
from torch.utils.data import DataLoader, TensorDataset
from cadence import Engine, Events
from cadence.data import reproducible_dataloader

items, position, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
dataset = TensorDataset(torch.arange(items))
if kind == "reproducible":
    data = reproducible_dataloader(dataset, 1, shuffle=True, seed=0)
else:
    data = DataLoader(dataset, batch_size=1)
engine = Engine(lambda e, b: b)
first = []
engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: (first.append(time.perf_counter()), e.terminate()))
engine.load_state_dict({"epoch_length": items, "iteration": 2 * items + position, "max_epochs": 5})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    run_called = time.perf_counter()
    state = engine.run(data)
assert state.iteration == 2 * items + position + 1, state.iteration
print(first[0] - run_called)
"""


def time_case(items: int, position: int, kind: str) -> tuple[float, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CASE, str(items), str(position), kind], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{kind} case failed:\n{done.stderr}")
    return elapsed, float(done.stdout.strip())


def long_epoch(items: int, position: int) -> None:
    baseline = time_case(items, 0, "reproducible")  # process start + imports + first batch, no skipping
    rows = [
        ("process start, first batch of an epoch (no skip)", baseline),
        ("reproducible_dataloader, O(1) resume", time_case(items, position, "reproducible")),
        ("plain DataLoader, re-read fallback", time_case(items, position, "plain")),
    ]
    print(f"\ndataset of {items:,} items, batch_size 1, resume at epoch 3 iteration {position:,}\n")
    print("| case | s from process start to first resumed iteration | ms from run() to first iteration |")
    print("|---|---|---|")
    for name, (total, in_run) in rows:
        print(f"| {name} | {total:.2f} | {in_run * 1000:.1f} |")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:  # one case, in a fresh process (see child)
        name, argument, params, batches = sys.argv[2:6]
        print(json.dumps(CHILDREN[name](argument, float(params), int(batches))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=float, default=50.0, help="millions of parameters")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each case, taking turns")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--positions", default="10,10000", help="batches of an epoch to position the data at")
    parser.add_argument("--items", type=int, default=1_000_000, help="items of the long epoch (0: skip it)")
    parser.add_argument("--position", type=int, default=500_000)
    parser.add_argument(
        "--environment-as-is", action="store_true", help="children keep this environment's bytecode settings"
    )
    args = parser.parse_args()
    positions = [int(text) for text in args.positions.split(",")]
    runs = against_torch_load(args.params, args.rounds, args.warmup, environment_as_is=args.environment_as_is)
    print_against_torch_load(runs, args.params)
    print_positioning(positioning(positions, args.rounds), positions, args.rounds)
    if args.items:
        long_epoch(args.items, args.position)
    print(f"\n({torch.get_num_threads()} torch threads; torch {torch.__version__})")


if __name__ == "__main__":
    main()
