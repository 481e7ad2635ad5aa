"""Average, Loss, RunningAverage and Frequency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence import Engine, Events
from cadence.metrics import (
    Accuracy,
    Average,
    BatchWise,
    EpochWise,
    Frequency,
    Loss,
    NotComputableError,
    RunningAverage,
    RunningEpochWise,
)
from tests.metrics._data import SETTINGS, cuts, generator, multiclass, split


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 30), width=st.integers(1, 3), data=st.data())
def test_average_of_rows_matches_numpy(seed: int, n: int, width: int, data: Any) -> None:
    values = torch.randn(n, width, generator=generator(seed), dtype=torch.float64)
    average = Average()
    for (batch,) in split([values], data.draw(cuts(n))):
        average.update(batch)
    np.testing.assert_allclose(average.compute().numpy(), values.numpy().mean(axis=0), rtol=1e-12)


def test_average_of_numbers_and_scalars() -> None:
    average = Average()
    average.update(1)
    average.update(torch.tensor(2.0))
    average.update(6.0)
    assert average.compute().item() == 3.0


def test_average_bad_input() -> None:
    with pytest.raises(NotComputableError):
        Average().compute()
    with pytest.raises(TypeError, match=r"should be a number or torch\.Tensor"):
        Average().update("1.0")


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), data=st.data())
def test_loss_is_the_per_sample_mean_over_all_batches(seed: int, n: int, data: Any) -> None:
    y_pred, y = multiclass(seed, n, 4)
    loss = Loss(torch.nn.CrossEntropyLoss())
    for batch in split([y_pred, y], data.draw(cuts(n))):
        if batch[1].numel():  # the mean loss of an empty batch is nan
            loss.update(batch)
    expected = torch.nn.functional.cross_entropy(y_pred.double(), y).item()
    assert loss.compute() == pytest.approx(expected, rel=1e-5)


def test_loss_takes_criterion_kwargs_from_a_third_item_or_key() -> None:
    def weighted(y_pred: torch.Tensor, y: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return (y_pred - y).abs().mean() * scale

    loss = Loss(weighted)
    loss.update((torch.zeros(2), torch.ones(2), {"scale": 3.0}))
    assert loss.compute() == 3.0
    engine = Engine(
        lambda engine, batch: {"y_pred": torch.zeros(2), "y": torch.ones(2), "criterion_kwargs": {"scale": 2.0}}
    )
    Loss(weighted).attach(engine, "with_kwargs")
    plain = Engine(lambda engine, batch: {"y_pred": torch.zeros(2), "y": torch.ones(2)})
    Loss(weighted).attach(plain, "without")
    assert engine.run([0]).metrics["with_kwargs"] == 2.0
    assert plain.run([0]).metrics["without"] == 1.0


def test_loss_bad_input() -> None:
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        Loss(3)  # type: ignore[arg-type]  # the error path under test
    with pytest.raises(TypeError, match="batch_size must be callable"):
        Loss(torch.nn.functional.l1_loss, batch_size=2)  # type: ignore[arg-type]  # the error path under test
    loss = Loss(torch.nn.L1Loss(reduction="none"))
    with pytest.raises(ValueError, match=r"mean loss as a 0-d tensor, got \(2,\)"):
        loss.update((torch.zeros(2), torch.ones(2)))
    with pytest.raises(TypeError, match="takes"):
        loss.update(torch.zeros(2))
    with pytest.raises(NotComputableError):
        loss.compute()


def test_running_average_of_the_output() -> None:
    engine = Engine(lambda engine, batch: batch)
    RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(engine, "ema")
    seen: list[float] = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.metrics["ema"]))
    engine.run([4.0, 2.0, 1.0, 3.0], max_epochs=2, epoch_length=2)
    assert seen == [4.0, 3.0, 2.0, 2.5]


def test_running_average_of_a_metric_per_batch() -> None:
    batches = [multiclass(i, 8, 3) for i in range(4)]
    engine = Engine(lambda engine, batch: batch)
    RunningAverage(Accuracy(), alpha=0.9).attach(engine, "running_accuracy")
    value = None
    for batch in batches:
        accuracy = Accuracy()
        accuracy.update(batch)
        value = accuracy.compute() if value is None else 0.9 * value + 0.1 * accuracy.compute()
    assert engine.run(batches).metrics["running_accuracy"] == pytest.approx(value)


def test_running_average_resets_per_epoch_with_single_epoch_usage_and_epoch_bound() -> None:
    for kwargs, attach_usage in (({}, "single_epoch_running_batch_wise"), ({"epoch_bound": True}, None)):
        engine = Engine(lambda engine, batch: batch)
        with pytest.warns(UserWarning, match="`epoch_bound` is deprecated") if kwargs else _no_warning():
            metric = RunningAverage(alpha=0.5, output_transform=lambda x: x, **kwargs)
        metric.attach(engine, "ema", **({"usage": attach_usage} if attach_usage else {}))
        seen: list[float] = []
        engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e, seen=seen: seen.append(e.state.metrics["ema"]))
        engine.run([4.0, 2.0, 1.0, 3.0], max_epochs=2, epoch_length=2)
        assert seen == [4.0, 3.0, 1.0, 2.0]


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def test_running_average_detach_removes_the_source_update_too() -> None:
    engine = Engine(lambda engine, batch: batch)
    source = Accuracy()
    running = RunningAverage(source)
    running.attach(engine, "acc", usage=RunningEpochWise())
    assert running.is_attached(engine, RunningEpochWise())
    running.detach(engine, RunningEpochWise())
    assert not engine.has_event_handler(source.iteration_completed)
    assert not running.is_attached(engine, RunningEpochWise())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"src": 3}, TypeError, "Argument src should be a Metric or None"),
        ({"alpha": 0.0, "output_transform": float}, ValueError, "alpha should be a float between 0 .excluded. and 1"),
        ({"alpha": 1.5, "output_transform": float}, ValueError, "alpha"),
        ({}, ValueError, "output_transform should not be None if src corresponds"),
        ({"src": Accuracy(), "device": "cpu"}, ValueError, "device should be None if src is a Metric"),
        (
            {"src": Accuracy(), "output_transform": float},
            ValueError,
            "output_transform should be None if src is a Metric",
        ),
    ],
)
def test_running_average_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        RunningAverage(**kwargs)


@pytest.mark.parametrize("usage", [EpochWise(), BatchWise(), "epoch_wise"])
def test_running_average_refuses_non_running_usages(usage: Any) -> None:
    with pytest.raises(ValueError, match="RunningBatchWise, SingleEpochRunningBatchWise or RunningEpochWise"):
        RunningAverage(alpha=0.5, output_transform=float).attach(Engine(lambda e, b: b), "x", usage=usage)


def test_running_average_bad_input() -> None:
    metric = RunningAverage(output_transform=float)
    with pytest.raises(NotComputableError):
        metric.compute()
    with pytest.raises(TypeError, match=r"should be a number or torch\.Tensor"):
        metric.update("3")


def test_frequency_counts_items_per_second() -> None:
    engine = Engine(lambda engine, batch: {"tokens": batch})
    Frequency(output_transform=lambda out: out["tokens"]).attach(engine, "tps", event_name=Events.EPOCH_COMPLETED)
    state = engine.run([100, torch.tensor(200), 300])
    assert 0 < state.metrics["tps"] < 600 / state.times["EPOCH_COMPLETED"] * 10
    frequency = Frequency()
    assert not frequency.is_attached(engine)
    with pytest.raises(NotComputableError):
        frequency.compute()
    with pytest.raises(TypeError, match=r"should be a number or torch\.Tensor"):
        frequency.update([1])


def test_frequency_attach_detach_with_default_event() -> None:
    engine = Engine(lambda engine, batch: batch)
    frequency = Frequency()
    frequency.attach(engine, "items/s")
    assert frequency.is_attached(engine)
    assert engine.run([10, 20]).metrics["items/s"] > 0
    frequency.detach(engine)
    assert not frequency.is_attached(engine)


def test_ignite_positional_arguments_are_accepted() -> None:
    loss = Loss(torch.nn.functional.l1_loss, lambda out: out, len, "cpu", True)
    assert loss._device == torch.device("cpu") and loss._skip_unrolling
    running = RunningAverage(None, 0.5, float, None, None, True)
    assert running.alpha == 0.5 and running._skip_unrolling
