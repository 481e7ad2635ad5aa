"""Time from process start to the first resumed iteration, at epoch 3 iteration 500,000 of 1,000,000.

Each case runs in a fresh Python process (interpreter start and imports included), loads an engine
state that points mid-epoch, and stops at the first iteration it runs:

- ``reproducible_dataloader``: cadence's sampler positions itself in O(1);
- ``DataLoader`` (plain, sequential): cadence must re-read and discard the consumed batches.

Run: ``.venv/bin/python benchmarks/resume.py [--items N] [--position K]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--position", type=int, default=500_000)
    args = parser.parse_args()
    baseline = time_case(args.items, 0, "reproducible")  # process start + imports + first batch, no skipping
    rows = [
        ("process start, first batch of an epoch (no skip)", baseline),
        ("reproducible_dataloader, O(1) resume", time_case(args.items, args.position, "reproducible")),
        ("plain DataLoader, re-read fallback", time_case(args.items, args.position, "plain")),
    ]
    print(f"dataset of {args.items:,} items, batch_size 1, resume at epoch 3 iteration {args.position:,}\n")
    print("| case | s from process start to first resumed iteration | ms from run() to first iteration |")
    print("|---|---|---|")
    for name, (total, in_run) in rows:
        print(f"| {name} | {total:.2f} | {in_run * 1000:.1f} |")


if __name__ == "__main__":
    main()
