"""Per-update cost of cadence's metrics, side by side with Ignite's and torchmetrics' equivalents.

Each row updates the three implementations with the same batch (256 samples, 10 classes, CPU); the
timings of a row are taken in the same process, interleaved, and the best of several repeats is kept,
so the ratios hold on a noisy machine even when the absolute numbers drift. torchmetrics is shown with
its default input validation and with ``validate_args=False``. torchmetrics has no ``Loss``: its
equivalent is a ``MeanMetric`` fed the batch's loss weighted by the batch size.

Run: ``.venv/bin/python benchmarks/metrics.py [--updates N] [--repeats R] [--threads T]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from cadence import metrics as cm

BATCH, CLASSES = 256, 10


def contenders(y_pred: torch.Tensor, y: torch.Tensor) -> dict[str, dict[str, Callable[[], Any]]]:
    """For each metric, the update calls of each library (one metric object each, updated repeatedly)."""
    import torchmetrics
    from ignite import metrics as im
    from torchmetrics import classification as tc

    pair = (y_pred, y)
    c_acc, i_acc = cm.Accuracy(), im.Accuracy()
    t_acc = tc.MulticlassAccuracy(num_classes=CLASSES, average="micro")
    t_acc_fast = tc.MulticlassAccuracy(num_classes=CLASSES, average="micro", validate_args=False)
    c_loss, i_loss = cm.Loss(F.cross_entropy), im.Loss(F.cross_entropy)
    t_loss = torchmetrics.MeanMetric()
    c_cm, i_cm = cm.ConfusionMatrix(CLASSES), im.ConfusionMatrix(CLASSES)
    t_cm = tc.MulticlassConfusionMatrix(num_classes=CLASSES)
    t_cm_fast = tc.MulticlassConfusionMatrix(num_classes=CLASSES, validate_args=False)
    return {
        "Accuracy": {
            "cadence": lambda: c_acc.update(pair),
            "ignite": lambda: i_acc.update(pair),
            "torchmetrics": lambda: t_acc.update(y_pred, y),
            "torchmetrics (no validation)": lambda: t_acc_fast.update(y_pred, y),
        },
        "Loss": {
            "cadence": lambda: c_loss.update(pair),
            "ignite": lambda: i_loss.update(pair),
            "torchmetrics": lambda: t_loss.update(F.cross_entropy(y_pred, y), weight=len(y)),
        },
        "ConfusionMatrix": {
            "cadence": lambda: c_cm.update(pair),
            "ignite": lambda: i_cm.update(pair),
            "torchmetrics": lambda: t_cm.update(y_pred, y),
            "torchmetrics (no validation)": lambda: t_cm_fast.update(y_pred, y),
        },
    }


def time_updates(update: Callable[[], Any], updates: int) -> float:
    """Microseconds per call of ``update``."""
    started = time.perf_counter()
    for _ in range(updates):
        update()
    return (time.perf_counter() - started) / updates * 1e6


def measure(updates: int, repeats: int) -> dict[str, dict[str, float]]:
    generator = torch.Generator().manual_seed(0)
    y_pred = torch.randn(BATCH, CLASSES, generator=generator)
    y = torch.randint(0, CLASSES, (BATCH,), generator=generator)
    table = contenders(y_pred, y)
    best: dict[str, dict[str, float]] = {metric: {} for metric in table}
    for metric, calls in table.items():
        for update in calls.values():
            time_updates(update, max(updates // 10, 10))  # warm-up
        for _ in range(repeats):
            for library, update in calls.items():
                micros = time_updates(update, updates)
                best[metric][library] = min(best[metric].get(library, float("inf")), micros)
    return best


def report(best: dict[str, dict[str, float]]) -> None:
    print(f"Per-update cost, batch {BATCH}, {CLASSES} classes, CPU, torch threads {torch.get_num_threads()}")
    print(f"{'metric':<16} {'library':<30} {'us/update':>10} {'cadence is':>14}")
    for metric, times in best.items():
        ours = times["cadence"]
        for library, micros in times.items():
            ratio = "" if library == "cadence" else f"{micros / ours:.2f}x faster"
            print(f"{metric:<16} {library:<30} {micros:>10.1f} {ratio:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000, help="updates per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per library; the best is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report(measure(args.updates, args.repeats))


if __name__ == "__main__":
    main()
