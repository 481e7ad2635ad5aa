"""Metric usages, driven through real engine runs."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence import metrics as cadence_metrics
from cadence.metrics import (
    Average,
    BatchFiltered,
    BatchWise,
    EpochWise,
    MetricUsage,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
)
from cadence.metrics.usage import to_usage

DATA = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # epoch 1 sees 1, 2, 3 and epoch 2 sees 4, 5, 6 (the iterator continues)


def published(usage: Any, event: Events) -> list[float]:
    engine = Engine(lambda engine, batch: batch)
    Average().attach(engine, "mean", usage=usage)
    seen: list[float] = []
    engine.add_event_handler(event, lambda e: seen.append(e.state.metrics["mean"]))
    engine.run(DATA, max_epochs=2, epoch_length=3)
    return seen


@pytest.mark.parametrize(
    "usage, event, expected",
    [
        (EpochWise(), Events.EPOCH_COMPLETED, [2.0, 5.0]),
        ("epoch_wise", Events.EPOCH_COMPLETED, [2.0, 5.0]),
        (RunningEpochWise(), Events.EPOCH_COMPLETED, [3.0, 4.5]),  # updated with each epoch's last output
        ("running_epoch_wise", Events.EPOCH_COMPLETED, [3.0, 4.5]),
        (BatchWise(), Events.ITERATION_COMPLETED, DATA),
        ("batch_wise", Events.ITERATION_COMPLETED, DATA),
        (RunningBatchWise(), Events.ITERATION_COMPLETED, [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]),
        ("running_batch_wise", Events.ITERATION_COMPLETED, [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]),
        (SingleEpochRunningBatchWise(), Events.ITERATION_COMPLETED, [1.0, 1.5, 2.0, 4.0, 4.5, 5.0]),
        ("single_epoch_running_batch_wise", Events.ITERATION_COMPLETED, [1.0, 1.5, 2.0, 4.0, 4.5, 5.0]),
        (BatchFiltered(every=2), Events.EPOCH_COMPLETED, [2.0, 5.0]),
        (BatchFiltered(once=[1, 5]), Events.EPOCH_COMPLETED, [1.0, 5.0]),
        (BatchFiltered(lambda engine, i: i % 3 == 0), Events.EPOCH_COMPLETED, [3.0, 6.0]),
    ],
)
def test_each_usage_resets_updates_and_publishes_on_its_events(
    usage: Any, event: Events, expected: list[float]
) -> None:
    assert published(usage, event) == expected


def test_a_usage_class_is_accepted() -> None:
    assert isinstance(to_usage(RunningBatchWise), RunningBatchWise)


@pytest.mark.parametrize("usage", ["epochwise", "batch_filtered"])
def test_unknown_usage_name_is_refused(usage: str) -> None:
    with pytest.raises(ValueError, match=r"usage should be .*EpochWise.usage_name.*, got"):
        Average().attach(Engine(lambda e, b: b), "mean", usage=usage)


@pytest.mark.parametrize("usage", [3, BatchFiltered, None])
def test_usage_of_another_type_is_refused(usage: Any) -> None:
    with pytest.raises(TypeError, match="Unhandled usage type"):
        Average().attach(Engine(lambda e, b: b), "mean", usage=usage)


def test_batch_filtered_needs_a_filter() -> None:
    with pytest.raises(ValueError, match="needs one of"):
        BatchFiltered()


def test_custom_usage() -> None:
    usage = MetricUsage(Events.STARTED, Events.COMPLETED, Events.ITERATION_COMPLETED)  # Ignite's order
    assert published(usage, Events.COMPLETED) == [3.5]
    named = MetricUsage(
        started=Events.STARTED, iteration_completed=Events.ITERATION_COMPLETED, completed=Events.COMPLETED
    )
    assert published(named, Events.COMPLETED) == [3.5]


def test_running_epoch_wise_updates_once_per_epoch() -> None:
    usage = RunningEpochWise()
    assert (usage.STARTED, usage.ITERATION_COMPLETED, usage.COMPLETED) == (
        Events.STARTED,
        Events.EPOCH_COMPLETED,
        Events.EPOCH_COMPLETED,
    )


def _epoch_values(engine_type: Any, events: Any, metrics: Any, usage: Any, make: str) -> list[Any]:
    generator = torch.Generator().manual_seed(0)
    data = [(torch.randn(4, 3, generator=generator), torch.randint(0, 3, (4,), generator=generator)) for _ in range(5)]
    engine = engine_type(lambda engine, batch: batch)
    metric = (
        metrics.RunningAverage(metrics.Accuracy(), alpha=0.5)
        if make == "running_average"
        else metrics.Average(output_transform=lambda output: output[0])
    )
    metric.attach(engine, "value", usage=usage)
    values: list[Any] = []
    engine.add_event_handler(events.EPOCH_COMPLETED, lambda engine: values.append(engine.state.metrics["value"]))
    engine.run(data, max_epochs=3)
    return values


@pytest.mark.parametrize("make", ["running_average", "average"])
def test_running_epoch_wise_matches_ignite(make: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ignite_engine = pytest.importorskip("ignite.engine")
        ignite_metrics = pytest.importorskip("ignite.metrics")
        from ignite.metrics.metric import RunningEpochWise as IgniteRunningEpochWise

    expected = _epoch_values(ignite_engine.Engine, ignite_engine.Events, ignite_metrics, IgniteRunningEpochWise(), make)
    got = _epoch_values(Engine, Events, cadence_metrics, RunningEpochWise(), make)
    assert len(got) == len(expected) == 3
    for value, reference in zip(got, expected, strict=True):
        assert torch.allclose(torch.as_tensor(value).double(), torch.as_tensor(reference).double())
