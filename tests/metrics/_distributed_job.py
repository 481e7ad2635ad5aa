"""Every metric over a dataset: computed in one process, or over uneven shards in each spawned process."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from cadence import distributed as idist
from cadence.metrics import (
    ROC_AUC,
    Accuracy,
    Average,
    ConfusionMatrix,
    Fbeta,
    IoU,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    Precision,
    R2Score,
    Recall,
    RootMeanSquaredError,
    RunningAverage,
    TopKCategoricalAccuracy,
    TorchMetricsAdapter,
    mIoU,
)

N, CLASSES, SHARD = 53, 4, 20  # rank 0 sees the first SHARD samples, rank 1 the other N - SHARD


def families() -> list[ModuleType]:
    """The metric families' own tables: every ``tests/metrics/_dist_*.py`` module.

    Each defines ``metrics()`` (name -> (data kind, factory), as below) and may define ``data(n)``
    (more data kinds, ``n`` samples each) and ``NO_EMPTY_BATCH`` (names of metrics that refuse an empty batch).
    """
    here = Path(__file__).parent
    return [importlib.import_module(f"tests.metrics.{path.stem}") for path in sorted(here.glob("_dist_*.py"))]


def dataset() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    data = _core_dataset()
    for family in families():
        if hasattr(family, "data"):
            data.update(family.data(N))
    return data


def _core_dataset() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    scores, labels = torch.randn(N, CLASSES, generator=g), torch.randint(0, CLASSES, (N,), generator=g)
    return {
        "multiclass": (scores, labels),
        "binary": (torch.randint(0, 2, (N,), generator=g), torch.randint(0, 2, (N,), generator=g)),
        "multilabel": (torch.randint(0, 2, (N, 3), generator=g), torch.randint(0, 2, (N, 3), generator=g)),
        "regression": (torch.randn(N, generator=g).double(), torch.randn(N, generator=g).double()),
        "scores": (torch.rand(N, generator=g).double(), torch.randint(0, 2, (N,), generator=g)),
    }


def metrics() -> dict[str, tuple[str, Callable[[], Metric]]]:
    """name -> (which data, factory)."""
    table: dict[str, tuple[str, Callable[[], Metric]]] = {
        "accuracy": ("multiclass", Accuracy),
        "accuracy_binary": ("binary", Accuracy),
        "accuracy_multilabel": ("multilabel", lambda: Accuracy(is_multilabel=True)),
        "top_2": ("multiclass", lambda: TopKCategoricalAccuracy(k=2)),
        "fbeta": ("multiclass", lambda: Fbeta(0.5)),
        "confusion_matrix": ("multiclass", lambda: ConfusionMatrix(CLASSES)),
        "iou": ("multiclass", lambda: IoU(ConfusionMatrix(CLASSES))),
        "miou": ("multiclass", lambda: mIoU(ConfusionMatrix(CLASSES), ignore_index=0)),
        "mae": ("regression", MeanAbsoluteError),
        "mse": ("regression", MeanSquaredError),
        "rmse": ("regression", RootMeanSquaredError),
        "r2": ("regression", R2Score),
        "roc_auc": ("scores", ROC_AUC),
        "loss": ("regression", lambda: Loss(torch.nn.functional.l1_loss)),
        "average": ("regression", lambda: _Rows(Average())),
    }
    for kind, cls, average in itertools.product(
        ("binary", "multiclass", "multilabel"), (Precision, Recall), (False, None, "micro", "macro", "weighted")
    ):
        table[f"{cls.__name__}_{kind}_{average}"] = (
            kind, lambda cls=cls, average=average, kind=kind: cls(average=average, is_multilabel=kind == "multilabel")
        )  # fmt: skip
    table["Precision_multilabel_samples"] = ("multilabel", lambda: Precision(average="samples", is_multilabel=True))
    table["Recall_multilabel_samples"] = ("multilabel", lambda: Recall(average="samples", is_multilabel=True))
    for family in families():
        table.update(family.metrics())
    return table


def no_empty_batch() -> set[str]:
    return {name for family in families() for name in getattr(family, "NO_EMPTY_BATCH", ())}


class _Rows(Metric):
    """Feeds only y_pred to a metric that takes one value."""

    def __init__(self, inner: Metric) -> None:
        self.inner = inner
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()

    def update(self, output: Any) -> None:
        self.inner.update(output[0].unsqueeze(1))

    def compute(self) -> Any:
        return self.inner.compute()


def batches(pair: tuple[Any, Any], start: int, stop: int, empty: bool = True) -> list[tuple[Any, Any]]:
    """Uneven batches of sizes 1, 2, 3, ... (with an empty one unless ``empty=False``) over samples [start, stop)."""
    cuts, size, position = [], 1, start
    while position < stop:
        cuts.append((position, min(stop, position + size)))
        position, size = position + size, size + 1
    if empty:
        cuts.insert(1, (start, start))
    return [(pair[0][a:b], pair[1][a:b]) for a, b in cuts]


def compute_all(start: int, stop: int) -> dict[str, Any]:
    data = dataset()
    results: dict[str, Any] = {}
    refuse_empty = no_empty_batch()
    for name, (kind, make) in metrics().items():
        metric = make()
        for batch in batches(data[kind], start, stop, empty=name not in refuse_empty):
            metric.update(batch)
        first = metric.compute()
        results[name] = first
        results[f"{name}/again"] = metric.compute()  # a second compute must not reduce twice
    results.update(_special_cases())
    return results


def _special_cases() -> dict[str, Any]:
    rank, world = idist.get_rank(), idist.get_world_size()
    results: dict[str, Any] = {}
    # A process that sees no data at all still takes part (counts whose size is found from the data).
    precision = Precision(average=None)
    if rank == 0:
        precision.update(dataset()["multiclass"])
    results["precision_one_rank"] = precision.compute()
    # ... also for binary data, whose per-class value depends on the kind of data that only rank 0 saw.
    binary = dataset()["binary"]
    for name, make in (("precision", Precision), ("recall", Recall), ("fbeta", lambda: Fbeta(1.0, average=False))):
        metric = make()
        if rank == 0:
            metric.update(binary)
        results[f"{name}_binary_one_rank"] = metric.compute()
    # An average of vectors (or of numbers and vectors) where a process saw nothing or only numbers.
    for name, feed in (
        ("vectors", [torch.tensor([[1.0, 2.0], [3.0, 4.0]])]),
        ("mixed", [1.0, torch.tensor([2.0, 6.0])]),
    ):
        average = Average()
        for position, value in enumerate(feed):
            if rank == position % world or world == 1:
                average.update(value)
        results[f"average_{name}_one_rank"] = average.compute()
    if world > 1:
        results["mismatch_errors"] = _mismatch_errors(rank)
    # The running average of the output averages the processes' values at each step.
    running = RunningAverage(alpha=0.5, output_transform=float)
    for step in range(3):
        running.update(float(step * 10 + rank))
    results["running_average"] = running.compute()
    results["expected_running_average"] = _ema([step * 10 + (world - 1) / 2 for step in range(3)], 0.5)
    return results


def _mismatch_errors(rank: int) -> list[str]:
    """Processes fed data of different kinds or shapes get a clear error, not a hang or a wrong value."""
    binary, multiclass = dataset()["binary"], dataset()["multiclass"]
    precision, average = Precision(), Average()
    precision.update(binary if rank == 0 else (multiclass[0][:, :2], multiclass[1] % 2))
    average.update(torch.ones(2 + rank))
    errors = []
    for metric in (precision, average):
        try:
            metric.compute()
        except ValueError as error:
            errors.append(str(error))
    return errors


def _ema(values: list[float], alpha: float) -> float:
    value = values[0]
    for new in values[1:]:
        value = value * alpha + (1 - alpha) * new
    return value


def torchmetrics_result(start: int, stop: int) -> Any:
    import torchmetrics

    adapter = TorchMetricsAdapter(torchmetrics.classification.MulticlassF1Score(num_classes=CLASSES, average="macro"))
    for batch in batches(dataset()["multiclass"], start, stop):
        if batch[1].numel():  # torchmetrics cannot take an empty batch
            adapter.update(batch)
    return adapter.compute()


def run_sharded(local_rank: int) -> dict[str, Any]:
    start, stop = (0, SHARD) if idist.get_rank() == 0 else (SHARD, N)
    results = compute_all(start, stop)
    results["torchmetrics"] = torchmetrics_result(start, stop)
    return results


def run_single() -> dict[str, Any]:
    results = compute_all(0, N)
    results["torchmetrics"] = torchmetrics_result(0, N)
    return results
