from __future__ import annotations

import io
import math
import warnings
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers import ProgressBar
from cadence.handlers import throughput as throughput_module
from cadence.handlers.throughput import Throughput


class FakeClock:
    """``time`` for the handler: each step advances it by ``step`` seconds (so rates are exact numbers)."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(throughput_module, "time", fake)
    return fake


def stepping(clock: FakeClock, seconds: float = 0.5) -> Engine[Any]:
    def step(engine: Engine[Any], batch: Any) -> None:
        clock.now += seconds

    return Engine(step)


def test_rates_per_window_for_the_run_and_the_rank(clock: FakeClock) -> None:
    engine = stepping(clock)
    throughput = Throughput(
        every=4, items=lambda batch: (batch > 0).sum(), item_name="tokens", flops_per_step=100.0, peak_flops=1000.0
    )
    throughput.attach(engine)
    batches = [torch.tensor([[1, 1, 0], [1, 0, 0]])] * 8  # 2 samples, 3 tokens
    metrics = engine.run(batches).metrics
    assert metrics["throughput/samples_per_s"] == metrics["throughput/rank_samples_per_s"] == 4.0
    assert metrics["throughput/tokens_per_s"] == metrics["throughput/rank_tokens_per_s"] == 6.0
    assert metrics["throughput/flops_per_s"] == metrics["throughput/rank_flops_per_s"] == 200.0
    assert metrics["throughput/mfu"] == metrics["throughput/rank_mfu"] == 0.2
    assert metrics["throughput/step_time_s"] == 0.5
    assert sorted(name for name in metrics if name.startswith("throughput/")) == sorted(throughput.names())


def test_batches_of_any_size_and_layout_are_counted(clock: FakeClock) -> None:
    engine = stepping(clock, 1.0)
    Throughput(every=4).attach(engine)
    batches = [{"image": torch.zeros(size, 3), "label": torch.zeros(size)} for size in (1, 2, 3, 4)]
    assert engine.run(batches).metrics["throughput/samples_per_s"] == 2.5
    engine = stepping(clock, 1.0)
    Throughput(every=2, batch_size=lambda batch: len(batch[1])).attach(engine)
    assert engine.run([(0, [1, 2, 3])] * 2).metrics["throughput/samples_per_s"] == 3.0


def test_a_fixed_batch_size_needs_no_tensor_and_nothing_per_iteration(clock: FakeClock) -> None:
    engine = stepping(clock)
    Throughput(every=2, batch_size=16).attach(engine)
    assert engine.run(["not a tensor"] * 4).metrics["throughput/samples_per_s"] == 32.0
    engine = stepping(clock)
    Throughput(every=2).attach(engine)
    with pytest.raises(TypeError, match="pass batch_size="):
        engine.run(["not a tensor"] * 4)


def test_a_window_starts_again_with_each_epoch_so_validation_is_not_counted(clock: FakeClock) -> None:
    engine = stepping(clock)
    Throughput(every=2, batch_size=1).attach(engine)

    @engine.on(Events.EPOCH_COMPLETED)
    def validate() -> None:
        clock.now += 100.0

    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(every=2), lambda e: seen.append(e.state.metrics["throughput/samples_per_s"])
    )
    engine.run([0] * 3, max_epochs=2)
    assert seen == [2.0, 2.0, 2.0]  # at iteration 4, one iteration since epoch 2 started: not the 100 s


def test_the_metrics_are_named_from_the_start_so_a_progress_bar_does_not_warn(clock: FakeClock) -> None:
    engine = stepping(clock)
    Throughput(every=3, batch_size=1).attach(engine)
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.metrics["throughput/samples_per_s"])
    )
    ProgressBar(file=io.StringIO()).attach(engine, metric_names=["throughput/samples_per_s"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.run([0] * 3)
    assert math.isnan(seen[0]) and math.isnan(seen[1]) and seen[2] == 2.0
    unnamed = stepping(clock)
    ProgressBar(file=io.StringIO()).attach(unnamed, metric_names=["throughput/samples_per_s"])
    with pytest.warns(UserWarning, match="not in engine.state.metrics"):  # what naming them from the start avoids
        unnamed.run([0] * 3)


def test_one_collective_per_window(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counting_all_reduce(tensor: torch.Tensor, op: Any) -> torch.Tensor:
        calls.append(tensor.tolist())
        return tensor

    monkeypatch.setattr(throughput_module, "all_reduce", counting_all_reduce)
    engine = stepping(clock)
    Throughput(every=5).attach(engine)
    engine.run([torch.zeros(2)] * 20)
    assert len(calls) == 4


def test_on_cuda_the_gpu_is_waited_for_at_the_windows_ends_only(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waits.append(device))
    engine = stepping(clock)
    Throughput(every=4, batch_size=2, device="cuda").attach(engine)
    engine.run([0] * 8)
    assert len(waits) == 4  # the run's start, the epoch's start, two windows' ends: not one per iteration
    waits.clear()
    engine = stepping(clock)
    Throughput(every=4, batch_size=2, device="cpu").attach(engine)
    engine.run([0] * 8)
    assert waits == []


def test_flops_without_a_peak_give_no_mfu(clock: FakeClock) -> None:
    engine = stepping(clock)
    Throughput(every=2, batch_size=1, flops_per_step=10.0, device="cpu").attach(engine)
    metrics = engine.run([0] * 2).metrics
    assert metrics["throughput/flops_per_s"] == 20.0 and "throughput/mfu" not in metrics


def test_detach_removes_every_handler() -> None:
    engine = Engine(lambda engine, batch: None)
    throughput = Throughput(every=1)
    throughput.attach(engine)
    throughput.detach()
    assert engine.run([0, 1]).metrics == {}
    throughput.attach(engine)  # may be attached again
    assert "throughput/samples_per_s" in engine.run([torch.zeros(1)]).metrics


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"every": 0}, ValueError, "every should be"),
        ({"every": True}, ValueError, "every should be"),
        ({"every": 2.5}, ValueError, "every should be"),
        ({"batch_size": 0}, ValueError, "batch_size should be"),
        ({"batch_size": True}, ValueError, "batch_size should be"),
        ({"batch_size": "32"}, ValueError, "batch_size should be"),
        ({"items": 3}, TypeError, "items should be a function"),
        ({"item_name": "tokens/s"}, ValueError, "item_name should be"),
        ({"flops_per_step": -1.0}, ValueError, "flops_per_step should be"),
        ({"flops_per_step": "1e9"}, ValueError, "flops_per_step should be"),
        ({"peak_flops": 0}, ValueError, "peak_flops should be"),
        ({"precision": "bf16"}, TypeError, "Precision"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Throughput(**kwargs)


def test_bad_attachments_and_bad_counts_are_refused() -> None:
    with pytest.raises(TypeError, match="needs an Engine"):
        Throughput().attach("trainer")  # type: ignore[arg-type]
    engine = Engine(lambda engine, batch: None)
    throughput = Throughput()
    throughput.attach(engine)
    with pytest.raises(RuntimeError, match="attached already"):
        throughput.attach(engine)
    for kwargs, message in [
        ({"batch_size": lambda batch: 2.0}, "should return an int"),
        ({"items": lambda batch: [1]}, "int or a tensor"),
        ({"items": lambda batch: torch.ones(2)}, "int or a tensor"),
    ]:
        engine = Engine(lambda engine, batch: None)
        Throughput(**kwargs).attach(engine)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=message):
            engine.run([torch.zeros(2)])
    engine = Engine(lambda engine, batch: None)
    Throughput().attach(engine)
    with pytest.raises(TypeError, match="0-dim tensor"):
        engine.run([torch.tensor(1.0)])
