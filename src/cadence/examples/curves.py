"""The demo's ``curves.png``, drawn from its ``metrics.csv`` (so a resumed run draws the whole run, not its last part).

Left: the training loss (running average) and the validation loss, with the validation accuracy on a
second axis; right: the learning rate. Both mark the best epoch (highest validation accuracy) and,
when early stopping ended the run, the epoch it stopped at. x is in epochs (iteration / epoch length).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.examples.extras import require

__all__ = ["Curves", "plot_curves", "read_curves"]


@dataclass
class Curves:
    """The series of one run, each a list of ``(epoch, value)`` points (epoch = iteration / epoch length)."""

    train_loss: list[tuple[float, float]] = field(default_factory=list)
    val_loss: list[tuple[float, float]] = field(default_factory=list)
    val_accuracy: list[tuple[float, float]] = field(default_factory=list)
    lr: list[tuple[float, float]] = field(default_factory=list)

    @property
    def best(self) -> tuple[float, float] | None:
        """The first point of highest validation accuracy, ``None`` before any validation.

        Example:
            >>> Curves(val_accuracy=[(1.0, 0.8), (2.0, 0.9), (3.0, 0.9)]).best
            (2.0, 0.9)
        """
        return max(self.val_accuracy, key=lambda point: point[1], default=None)


_COLUMNS = {"train/loss": "train_loss", "val/loss": "val_loss", "val/accuracy": "val_accuracy", "lr/group_0": "lr"}


def read_curves(path: Path, epoch_length: int) -> Curves:
    """Read the demo's ``metrics.csv`` (one row per step, empty cells where a value was not logged).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "metrics.csv"
        >>> _ = path.write_text("step,train/loss,val/accuracy\\n10,2.5,\\n20,2.0,0.75\\n")
        >>> read_curves(path, epoch_length=20)
        Curves(train_loss=[(0.5, 2.5), (1.0, 2.0)], val_loss=[], val_accuracy=[(1.0, 0.75)], lr=[])
    """
    curves = Curves()
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            epoch = int(row["step"]) / epoch_length
            for column, name in _COLUMNS.items():
                if row.get(column):
                    getattr(curves, name).append((epoch, float(row[column])))
    return curves


def plot_curves(curves: Curves, path: Path, *, stopped_at: int | None = None, patience: int | None = None) -> None:
    """Draw ``curves`` to the PNG ``path``; ``stopped_at``: the epoch early stopping ended the run at.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "curves.png"
        >>> curves = Curves([(0.5, 2.0), (1.0, 1.0)], [(1.0, 0.9)], [(1.0, 0.8)], [(0.5, 0.1), (1.0, 0.05)])
        >>> plot_curves(curves, path, stopped_at=1, patience=3)
        >>> path.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (losses, rates) = plt.subplots(1, 2, figsize=(11, 4.8), width_ratios=(3, 2))
    accuracy = losses.twinx()
    lines = [
        *_series(losses, curves.train_loss, "training loss (running average)", color="tab:blue"),
        *_series(losses, curves.val_loss, "validation loss", color="tab:orange", marker="o"),
        *_series(accuracy, curves.val_accuracy, "validation accuracy", color="tab:green", marker="o"),
    ]
    losses.set(title="Loss and validation accuracy", xlabel="epoch", ylabel="cross-entropy loss")
    accuracy.set_ylabel("validation accuracy")
    accuracy.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _series(rates, curves.lr, "learning rate", color="tab:purple")
    rates.set(title="Learning rate (warm-up, then cosine)", xlabel="epoch", ylabel="learning rate")
    best, best_lines, stop_lines = curves.best, [], []
    for axes in (losses, rates):
        if best is not None:
            best_lines.append(axes.axvline(best[0], color="tab:green", linestyle="--", linewidth=1))
        if stopped_at is not None:
            stop_lines.append(axes.axvline(stopped_at, color="tab:red", linestyle=":", linewidth=1.5))
    if best is not None:
        accuracy.plot(*best, marker="*", markersize=14, color="tab:green")
        best_lines[0].set_label(f"best epoch {best[0]:g} ({best[1]:.2%})")
        lines.append(best_lines[0])
    if stopped_at is not None:
        why = f" (patience {patience})" if patience else ""
        stop_lines[0].set_label(f"early stop after epoch {stopped_at}{why}")
        lines.append(stop_lines[0])
    losses.set_ylim(bottom=0)
    figure.legend(handles=lines, loc="lower center", ncols=3, frameon=False)
    figure.suptitle("cadence demo: an MLP on scikit-learn's digits")
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _series(axes: Any, points: list[tuple[float, float]], label: str, **style: Any) -> list[Any]:
    if not points:
        return []
    x, y = zip(*points, strict=True)
    lines: list[Any] = axes.plot(x, y, label=label, markersize=4, **style)
    return lines
