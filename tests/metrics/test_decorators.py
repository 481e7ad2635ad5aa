"""Metrics written for Ignite run unchanged: reinit__is_reduced, sync_all_reduce, its constructor and state keys."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from cadence import Engine
from cadence.metrics import Accuracy, Metric, NotComputableError
from cadence.metrics.metric import reinit__is_reduced, sync_all_reduce


class IgniteStyleMean(Metric):
    """A mean written as Ignite's docs teach: accumulators reset/updated under reinit__is_reduced."""

    required_output_keys = None

    @reinit__is_reduced
    def reset(self) -> None:
        self._sum = torch.tensor(0.0, dtype=torch.float64, device=self._device)
        self._num_examples = 0
        self._largest = -float("inf")

    @reinit__is_reduced
    def update(self, output: torch.Tensor) -> None:
        self._sum += output.double().sum().to(self._device)
        self._num_examples += output.numel()
        self._largest = max(self._largest, output.max().item()) if output.numel() else self._largest

    @sync_all_reduce("_num_examples", "_sum:SUM", "_largest:MAX")
    def compute(self) -> tuple[float, float]:
        if self._num_examples == 0:
            raise NotComputableError("IgniteStyleMean needs at least one example.")
        return self._sum.item() / self._num_examples, self._largest


def test_an_ignite_style_metric_computes_and_restores_its_accumulators() -> None:
    metric = IgniteStyleMean()
    for batch in (torch.tensor([1.0, 2.0]), torch.tensor([6.0])):
        metric.update(batch)
    assert metric.compute() == (3.0, 6.0)
    assert metric.compute() == (3.0, 6.0)
    assert metric._num_examples == 3
    metric.reset()
    with pytest.raises(NotComputableError):
        metric.compute()


def test_an_ignite_style_metric_runs_on_an_engine() -> None:
    engine = Engine(lambda engine, batch: batch)
    IgniteStyleMean().attach(engine, "mean")
    assert engine.run([torch.tensor([1.0, 3.0]), torch.tensor([8.0])]).metrics["mean"] == (4.0, 8.0)


def test_decorators_keep_the_method_name_and_docstring() -> None:
    assert IgniteStyleMean.compute.__name__ == "compute"
    assert IgniteStyleMean.reset.__name__ == "reset"


@pytest.mark.parametrize("spec", ["a:sum", "a:MaX", "a:MINN", "a:PROduCT"])
def test_a_misspelt_reduction_is_refused_even_in_one_process(spec: str) -> None:
    class Spelt(IgniteStyleMean):
        @sync_all_reduce(spec)
        def spelt(self) -> None:
            pass

    with pytest.raises(ValueError, match="Reduction operation is not valid"):
        Spelt().spelt()


def test_sync_all_reduce_on_something_else_than_a_metric_is_refused() -> None:
    class NotAMetric:
        @sync_all_reduce("a")
        def compute(self) -> int:
            return 1

    with pytest.raises(RuntimeError, match="should be used on Metric class methods only"):
        NotAMetric().compute()


def test_ignite_positional_constructor_arguments() -> None:
    metric = IgniteStyleMean(lambda output: output * 2, "cpu", True, "named")
    assert metric._device == torch.device("cpu") and metric._skip_unrolling
    with pytest.raises(ValueError, match="Cannot create metric on an XLA device"):
        IgniteStyleMean(device="xla")


def test_no_gradient_is_recorded_while_the_engine_updates() -> None:
    seen: list[bool] = []

    class GradProbe(IgniteStyleMean):
        def update(self, output: torch.Tensor) -> None:
            seen.append((output * 2).requires_grad)

        def compute(self) -> tuple[float, float]:
            return 0.0, 0.0

    weight = torch.ones(2, requires_grad=True)
    engine = Engine(lambda engine, batch: weight * batch)
    GradProbe().attach(engine, "probe")
    engine.run([torch.ones(2)])
    assert seen == [False]


class WithIgniteStateKeys(Metric):
    _state_dict_all_req_keys = ("count", "inner", "history")

    def __init__(self) -> None:
        self.inner = Accuracy()
        super().__init__()

    def reset(self) -> None:
        self.count = 0
        self.inner.reset()
        self.history: list[Any] = [torch.zeros(2), 0.5]

    def update(self, output: Any) -> None:
        self.count += 1
        self.inner.update(output)
        self.history = [self.history[0] + 1, self.history[1] * 2]

    def compute(self) -> Any:
        return self.count, self.inner.compute()


def test_ignite_state_keys_are_saved_and_loaded_with_nested_metrics() -> None:
    batch = (torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0]))
    saved = WithIgniteStateKeys()
    saved.update(batch)
    restored = WithIgniteStateKeys()
    restored.load_state_dict(saved.state_dict())
    assert restored.compute() == (1, 0.5)
    assert torch.equal(restored.history[0], torch.ones(2)) and restored.history[1] == 1.0
    restored.update(batch)
    assert restored.compute() == (2, 0.5)


def test_ignite_state_keys_must_exist_and_be_saveable() -> None:
    metric = WithIgniteStateKeys()
    metric.count = object()  # type: ignore[assignment]  # the error path under test
    with pytest.raises(TypeError, match="Found attribute of unsupported type"):
        metric.state_dict()
    del metric.count
    with pytest.raises(ValueError, match="not among metric attributes: count"):
        metric.state_dict()
