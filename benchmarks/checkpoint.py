"""How long a checkpoint save blocks the training loop: synchronous vs ``Checkpoint(async_save=True)``, and Ignite.

A ~50M-parameter MLP trained with Adam (weights and the two moments: about 600 MB of state) saves
``{"model", "optimizer", "trainer"}`` every ``--every`` iterations to a folder on this machine's disk. For
each save it records:

- the loop stall: the time the handler call blocks the loop (for ``async_save``: the wait for the
  previous save if it were still in flight, plus the copy of the state to CPU memory);
- the time until the file is complete (written, fsynced and renamed), from the start of the call;

and, for each iteration without a save, the training step time, which shows what the background write
costs the steps it overlaps; and the run time that each save adds to the same iterations without
checkpoints. ``--every`` defaults to three times what a write needs. The cases take turns for ``--rounds``
rounds of ``--saves`` saves; medians over all, the first save of a round apart (``async_save`` allocates
its buffers there).

Then the same state against the disk: the time to write and fsync its bytes with plain file writes (the
disk's own limit), ``torch.save`` to a file + fsync and DCP's own save (the serialization), and cadence's
synchronous saves (``Checkpoint`` with a ``DiskSaver``, and with a ``ShardedDiskSaver``: DCP). They take turns
for ``--disk-rounds`` rounds, in a rotating order, each after an ``os.sync()``; each one's speed is the plain
writes' time over its own in the same round: median, min and max over the rounds.

Run: ``.venv/bin/python benchmarks/checkpoint.py [--params 50] [--saves 5] [--rounds 2] [--every N]
[--disk-rounds 10] [--folder DIR]``
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers import Checkpoint, DiskSaver, ShardedDiskSaver


class TimedSaver(DiskSaver):
    """A DiskSaver that notes when each background write is complete."""

    def __init__(self, dirname: Path) -> None:
        super().__init__(dirname, require_empty=False)
        self.completed: list[float] = []

    def save_in_background(self, checkpoint: Any, filename: str, metadata: Any = None) -> None:
        super().save_in_background(checkpoint, filename, metadata)
        self.completed.append(time.perf_counter())


class TimedShardedSaver(ShardedDiskSaver):
    """A ShardedDiskSaver that notes when each folder is published (complete)."""

    def __init__(self, dirname: Path) -> None:
        super().__init__(dirname, require_empty=False)
        self.completed: list[float] = []

    def publish(self, place: Any, filename: str) -> None:
        super().publish(place, filename)
        self.completed.append(time.perf_counter())


def build(params_millions: float) -> tuple[nn.Module, torch.optim.Optimizer, torch.Tensor]:
    torch.manual_seed(0)
    width = round(math.sqrt(params_millions * 1e6 / 4))
    model = nn.Sequential(*(nn.Linear(width, width) for _ in range(4)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    return model, optimizer, torch.randn(8, width)


def state_bytes(model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    tensors = [*model.state_dict().values()]
    tensors += [value for state in optimizer.state.values() for value in state.values()]
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer) -> Callable[[Any, torch.Tensor], float]:
    def step(engine: Any, batch: torch.Tensor) -> float:
        optimizer.zero_grad()
        loss = model(batch).square().mean()
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def run_case(engine: Any, events: Any, handler: Any, batch: torch.Tensor, saves: int, every: int) -> dict[str, Any]:
    """Run ``saves * every`` iterations, ``handler`` (the checkpoint) after every ``every``-th; time both."""
    stalls: list[float] = []
    calls: list[float] = []
    steps: list[float] = []
    started = [0.0]

    def timed_save(engine: Any) -> None:
        start = time.perf_counter()
        handler(engine)
        calls.append(start)
        stalls.append(time.perf_counter() - start)

    def step_started(engine: Any) -> None:
        started[0] = time.perf_counter()

    def step_completed(engine: Any) -> None:
        if engine.state.iteration % every:  # the steps between saves
            steps.append(time.perf_counter() - started[0])

    engine.add_event_handler(events.ITERATION_STARTED, step_started)
    engine.add_event_handler(events.ITERATION_COMPLETED, step_completed)
    engine.add_event_handler(events.ITERATION_COMPLETED(every=every), timed_save)
    start = time.perf_counter()
    engine.run([batch] * every, max_epochs=saves)
    return {"stalls": stalls, "calls": calls, "steps": steps, "run": time.perf_counter() - start}


def measure(
    name: str, folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, batch: torch.Tensor,
    saves: int, every: int,
) -> dict[str, Any]:  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    to_save: dict[str, Any]
    events: Any
    engine: Any
    handler: Any
    if name == "none":
        engine, events, saver = Engine(train_step(model, optimizer)), Events, None
        handler = lambda engine: None  # noqa: E731
    elif name == "ignite":
        from ignite.engine import Engine as IgniteEngine
        from ignite.engine import Events as IgniteEvents
        from ignite.handlers import Checkpoint as IgniteCheckpoint
        from ignite.handlers import DiskSaver as IgniteDiskSaver

        engine = IgniteEngine(train_step(model, optimizer))
        to_save = {"model": model, "optimizer": optimizer, "trainer": engine}
        handler = IgniteCheckpoint(to_save, IgniteDiskSaver(str(folder), require_empty=False), n_saved=1)
        saver, events = None, IgniteEvents
    else:
        engine = Engine(train_step(model, optimizer))
        to_save = {"model": model, "optimizer": optimizer, "trainer": engine}
        saver = TimedShardedSaver(folder) if name.startswith("sharded") else TimedSaver(folder)
        handler = Checkpoint(to_save, saver, n_saved=1, async_save=name.endswith("async"))
        events = Events
    result = run_case(engine, events, handler, batch, saves, every)
    if saver is not None and saver.completed:
        result["complete"] = [end - start for start, end in zip(result["calls"], saver.completed, strict=True)]
    else:
        result["complete"] = result["stalls"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=float, default=50.0, help="millions of parameters")
    parser.add_argument("--saves", type=int, default=5)
    parser.add_argument("--every", type=int, default=0, help="iterations between saves (0: enough for a write)")
    parser.add_argument("--rounds", type=int, default=2, help="times each case runs, taking turns")
    parser.add_argument("--disk-rounds", type=int, default=10, help="rounds of the comparison with the disk")
    parser.add_argument("--folder", type=Path, default=None, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    model, optimizer, batch = build(args.params)
    train_step(model, optimizer)(None, batch)  # Adam's moments exist from here on
    parameters = sum(p.numel() for p in model.parameters())
    root = args.folder or Path(tempfile.mkdtemp(prefix="cadence-checkpoint-bench-"))
    every = args.every
    if not every:  # one synchronous save and a few steps tell how many steps a write needs
        probe = measure("sync", root / "probe", model, optimizer, batch, saves=1, every=3)
        every = max(3, math.ceil(3 * probe["stalls"][0] / statistics.median(probe["steps"])) + 1)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CASES}
    for _ in range(args.rounds):  # the cases take turns, so that a change in the machine's load hits them all
        for name in CASES:
            runs[name].append(measure(name, root / name, model, optimizer, batch, args.saves, every))
    checks = integrity(root / "integrity", model, optimizer, args.rounds)
    disk = against_the_disk(root / "disk", model, optimizer, args.disk_rounds)
    if args.folder is None:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"{parameters / 1e6:.1f}M parameters with Adam: {state_bytes(model, optimizer) / 1e6:.0f} MB of state; "
        f"a save every {every} iterations, {args.rounds} rounds of {args.saves} saves per case, "
        f"{torch.get_num_threads()} torch threads\n"
    )
    print(
        "| save | loop stall per save, median (first save) | stall vs the synchronous save | complete after, median "
        "| step time between saves, median | run time added per save |"
    )
    print("|---|---|---|---|---|---|")
    summary = {name: summarize(results) for name, results in runs.items()}
    baseline = summary["none"]["run"]
    for name, label in CASES.items():
        row = summary[name]
        sync_stall = summary["sharded" if name.startswith("sharded") else "sync"]["stall"]
        if name == "none":
            print(f"| {label} | | | | {row['step'] * 1000:.0f} ms | |")
            continue
        print(
            f"| {label} | {row['stall'] * 1000:.0f} ms ({row['first'] * 1000:.0f} ms) | "
            f"{row['stall'] / sync_stall:.1%} | {row['complete']:.2f} s | {row['step'] * 1000:.0f} ms | "
            f"{(row['run'] - baseline) / args.saves:.2f} s |"
        )
    print(
        f"\nChecksums: torch.save with its CRC-32s (what cadence's files carry) {checks['save_crc']:.2f} s, without "
        f"{checks['save_plain']:.2f} s ({checks['save_crc'] / checks['save_plain'] - 1:+.1%}); checking a file "
        f"before a load {checks['check']:.2f} s, the load (torch.load) {checks['load']:.2f} s "
        f"(the check adds {checks['check'] / checks['load']:.0%} of a load)."
    )
    print_disk_table(disk, state_bytes(model, optimizer), args.disk_rounds)


def integrity(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, rounds: int) -> dict[str, float]:
    """What checksums cost: ``torch.save`` with its CRC-32s (what cadence's files carry) against without them, and
    checking a file before a load against the load itself (``torch.load``), alternating, medians."""
    from cadence.handlers._loading import check_stream

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "state.pt"
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    times: dict[str, list[float]] = {"save_crc": [], "save_plain": [], "check": [], "load": []}
    for _ in range(max(3, rounds)):
        for crc in (True, False):
            torch.serialization.set_crc32_options(crc)
            start = time.perf_counter()
            torch.save(state, path)
            times["save_crc" if crc else "save_plain"].append(time.perf_counter() - start)
        torch.serialization.set_crc32_options(True)
        torch.save(state, path)
        start = time.perf_counter()
        with path.open("rb") as file:
            check_stream(file, str(path))
        times["check"].append(time.perf_counter() - start)
        start = time.perf_counter()
        torch.load(path, map_location="cpu", weights_only=True)
        times["load"].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def plain_writes(tensors: list[torch.Tensor]) -> Callable[[Path], None]:
    """Write the tensors' bytes to a new file with ``os.write`` and fsync it: what the disk allows."""

    def write(path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            for tensor in tensors:
                view = tensor.numpy().data.cast("B")
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    return write


def torch_save_fsync(state: Any) -> Callable[[Path], None]:
    """``torch.save`` to a file (its CRC-32s included, torch's default), then fsync."""

    def write(path: Path) -> None:
        with path.open("xb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())

    return write


def dcp_save(model: nn.Module, optimizer: torch.optim.Optimizer) -> Callable[[Path], None]:
    """DCP's own synchronous save of the model and optimizer (``FileSystemWriter(sync_files=True)``: fsyncs)."""
    import warnings

    from torch.distributed.checkpoint.filesystem import FileSystemWriter
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict
    from torch.distributed.checkpoint.state_dict_saver import save

    def write(path: Path) -> None:
        state = {"model": get_model_state_dict(model), "optimizer": get_optimizer_state_dict(model, optimizer)}
        with warnings.catch_warnings():  # "assuming ... a single process": yes
            warnings.simplefilter("ignore")
            save(state, storage_writer=FileSystemWriter(path, sync_files=True))

    return write


def cadence_save(saver: DiskSaver, model: nn.Module, optimizer: torch.optim.Optimizer) -> Callable[[Path], None]:
    """A synchronous save by cadence's ``Checkpoint`` (a new name each time) into ``saver``'s folder."""
    trainer = Engine(train_step(model, optimizer))
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer, "trainer": trainer}, saver, n_saved=None)

    def write(path: Path) -> None:
        trainer.state.iteration += 1
        checkpoint(trainer)

    return write


def against_the_disk(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, rounds: int
) -> dict[str, list[float]]:
    """Seconds per write of the same state, each of :data:`DISK_CASES` in turn for ``rounds`` rounds (the order
    rotates), each after an ``os.sync()`` and into a fresh file or folder (removed afterwards, untimed)."""
    tensors = [*model.state_dict().values()]
    tensors += [value for state in optimizer.state.values() for value in state.values() if value.dim()]
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    shutil.rmtree(folder, ignore_errors=True)
    stores = {"cadence": folder / "cadence", "cadence_sharded": folder / "sharded"}
    writers = {
        "plain": plain_writes(tensors),
        "torch_save": torch_save_fsync(state),
        "dcp": dcp_save(model, optimizer),
        "cadence": cadence_save(DiskSaver(stores["cadence"]), model, optimizer),
        "cadence_sharded": cadence_save(ShardedDiskSaver(stores["cadence_sharded"]), model, optimizer),
    }
    times: dict[str, list[float]] = {name: [] for name in writers}
    names = list(writers)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            os.sync()
            start = time.perf_counter()
            writers[name](folder / f"{name}.out")
            times[name].append(time.perf_counter() - start)
            for path in [*folder.iterdir(), *(p for store in stores.values() for p in store.iterdir())]:
                if path in stores.values():
                    continue
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(folder, ignore_errors=True)
    return times


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0%} ({min(values):.0%}-{max(values):.0%})"


def print_disk_table(times: dict[str, list[float]], size: int, rounds: int) -> None:
    plain = times["plain"]
    print(
        f"\nAgainst the disk: {size / 1e6:.0f} MB written and fsynced, {rounds} rounds taking turns; time median "
        "(min-max); speed as a fraction of the plain writes' in the same round, median (min-max)\n"
    )
    print("| write | time, median (min-max) | speed vs plain writes | MB/s, median |")
    print("|---|---|---|---|")
    for name, label in DISK_CASES.items():
        values = times[name]
        ratios = [p / t for p, t in zip(plain, values, strict=True)]
        print(
            f"| {label} | {statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f}) | "
            f"{spread(ratios)} | {size / statistics.median(values) / 1e6:.0f} |"
        )


def summarize(results: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over all rounds; the first save of each round (buffers allocated, files created) apart."""
    later = [stall for result in results for stall in result["stalls"][1:]]
    return {
        "stall": statistics.median(later or [0.0]),
        "first": statistics.median(result["stalls"][0] if result["stalls"] else 0.0 for result in results),
        "complete": statistics.median([t for result in results for t in result["complete"][1:]] or [0.0]),
        "step": statistics.median(step for result in results for step in result["steps"]),
        "run": statistics.median(result["run"] for result in results),
    }


CASES = {
    "none": "no checkpoint (the same iterations)",
    "sync": "cadence `Checkpoint`, synchronous",
    "async": "cadence `Checkpoint(async_save=True)`",
    "sharded": "cadence `Checkpoint(ShardedDiskSaver(...))` (DCP), synchronous",
    "sharded-async": "cadence `Checkpoint(ShardedDiskSaver(...), async_save=True)` (DCP `async_save`)",
    "ignite": "Ignite 0.5.5 `Checkpoint` (synchronous)",
}

DISK_CASES = {
    "plain": "plain file writes (`os.write`) + fsync: the disk's limit",
    "torch_save": "`torch.save` to a file + fsync (with its CRC-32s)",
    "dcp": "DCP `save`, `FileSystemWriter(sync_files=True)`",
    "cadence": "cadence `Checkpoint`, `DiskSaver`, synchronous",
    "cadence_sharded": "cadence `Checkpoint`, `ShardedDiskSaver` (DCP), synchronous",
}


if __name__ == "__main__":
    main()
