"""TorchMetricsAdapter: a torchmetrics metric attached to an engine."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from cadence import Engine
from cadence.metrics import Accuracy, NotComputableError, TorchMetricsAdapter
from tests.metrics._data import multiclass

torchmetrics = pytest.importorskip("torchmetrics")


def test_attached_torchmetric_matches_cadence_metric() -> None:
    batches = [multiclass(i, 16, 5) for i in range(4)]
    engine = Engine(lambda engine, batch: {"y_pred": batch[0], "y": batch[1]})
    TorchMetricsAdapter(torchmetrics.classification.MulticlassAccuracy(num_classes=5, average="micro")).attach(
        engine, "tm_accuracy"
    )
    Accuracy().attach(engine, "accuracy")
    metrics = engine.run(batches, max_epochs=2).metrics
    assert metrics["tm_accuracy"] == pytest.approx(metrics["accuracy"])


def test_state_dict_round_trip() -> None:
    batches = [multiclass(i, 16, 5) for i in range(4)]
    first = TorchMetricsAdapter(torchmetrics.classification.MulticlassAccuracy(num_classes=5, average="macro"))
    for batch in batches[:2]:
        first.update(batch)
    resumed = TorchMetricsAdapter(torchmetrics.classification.MulticlassAccuracy(num_classes=5, average="macro"))
    resumed.load_state_dict(first.state_dict())
    for batch in batches[2:]:
        first.update(batch)
        resumed.update(batch)
    assert torch.equal(resumed.compute(), first.compute())
    with pytest.raises(ValueError, match="Cannot load"):
        resumed.load_state_dict(TorchMetricsAdapter(torchmetrics.MeanSquaredError()).state_dict())


def test_single_value_update_and_compute_before_update() -> None:
    mean = TorchMetricsAdapter(torchmetrics.MeanMetric())
    with pytest.raises(NotComputableError):
        mean.compute()
    mean.update(torch.tensor([1.0, 3.0]))
    assert mean.compute().item() == 2.0
    mean.reset()
    with pytest.raises(NotComputableError):
        mean.compute()


def test_only_torchmetrics_metrics_are_accepted() -> None:
    with pytest.raises(TypeError, match=r"needs a torchmetrics\.Metric"):
        TorchMetricsAdapter(Accuracy())


def test_importing_cadence_metrics_does_not_import_torchmetrics() -> None:
    code = "import sys, cadence.metrics; assert 'torchmetrics' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
