"""VariableAccumulation, Average, GeometricAverage and MetricGroup against direct NumPy formulas."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence import Engine
from cadence.metrics import (
    Accuracy,
    Average,
    GeometricAverage,
    MetricGroup,
    NotComputableError,
    Precision,
    VariableAccumulation,
)


def odd_batches(values: torch.Tensor) -> list[torch.Tensor]:
    cuts, position, size = [], 0, 1
    while position < len(values):
        cuts.append(values[position : position + size])
        position, size = position + size, size + 2
    return cuts


@pytest.mark.parametrize("shape", [(37, 4), (23, 2, 3)])
def test_average_and_geometric_average_of_rows_match_numpy(shape: tuple[int, ...]) -> None:
    values = torch.rand(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.1
    average, geometric = Average(), GeometricAverage()
    for batch in odd_batches(values):
        average.update(batch)
        geometric.update(batch)
    rows = values.numpy()
    np.testing.assert_allclose(average.compute().numpy(), rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(geometric.compute().numpy(), np.exp(np.log(rows).mean(axis=0)), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=20))
def test_geometric_average_of_numbers_is_a_float_between_min_and_max(values: list[float]) -> None:
    metric = GeometricAverage()
    for value in values:
        metric.update(value)
    result = metric.compute()
    assert isinstance(result, float)
    assert result == pytest.approx(float(np.exp(np.mean(np.log(values)))), rel=1e-9)
    assert min(values) * (1 - 1e-9) <= result <= max(values) * (1 + 1e-9)


def test_variable_accumulation_counts_examples_and_folds_with_op() -> None:
    metric = VariableAccumulation(lambda acc, x: acc + x.sum(dim=0) if isinstance(x, torch.Tensor) else acc + x)
    metric.update(2.0)
    metric.update(torch.tensor(3.0))
    metric.update(torch.tensor([1.0, 1.0]))  # a 1-d tensor is one example
    metric.update(torch.ones(4, 2))  # a batch of 4
    accumulator, num_examples = metric.compute()
    assert num_examples == 7
    assert accumulator.tolist() == [11.0, 11.0]  # 2 + 3 + (1 + 1) + 4
    assert accumulator.dtype == torch.float64


@pytest.mark.parametrize("bad", [(1, 2), "a", None, True])
def test_accumulations_refuse_what_is_not_a_number_or_tensor(bad: Any) -> None:
    for metric in (VariableAccumulation(lambda a, x: a + x), Average(), GeometricAverage()):
        with pytest.raises(TypeError, match=r"Output should be a number or torch\.Tensor"):
            metric.update(bad)


def test_bad_op_and_empty_metrics_are_refused() -> None:
    with pytest.raises(TypeError, match="Argument op should be a callable"):
        VariableAccumulation(1)  # type: ignore[arg-type]  # the error path under test
    for metric in (Average(), GeometricAverage()):
        with pytest.raises(NotComputableError):
            metric.compute()


def test_geometric_average_of_a_negative_value_is_an_error() -> None:
    metric = GeometricAverage()
    metric.update(torch.tensor([[1.0], [-2.0]]))
    with pytest.raises(ValueError, match="negative or NaN"):
        metric.compute()


def test_state_dict_resumes_exactly_and_exposes_ignite_attributes() -> None:
    first, resumed = GeometricAverage(), GeometricAverage()
    first.update(torch.tensor([[2.0, 8.0]]))
    resumed.load_state_dict(first.state_dict())
    assert resumed.num_examples == 1 and torch.equal(resumed.accumulator, first.accumulator)
    first.update(torch.tensor([[8.0, 2.0]]))
    resumed.update(torch.tensor([[8.0, 2.0]]))
    assert torch.equal(resumed.compute(), first.compute())


def test_metric_group_updates_each_metric_through_its_own_transform_and_publishes() -> None:
    y_pred, y = torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 1, 0])
    drop_first = lambda output: (output[0][1:], output[1][1:])  # noqa: E731  # a short transform
    group = MetricGroup({"acc": Accuracy(), "acc_tail": Accuracy(output_transform=drop_first), "p": Precision()})
    engine = Engine(lambda engine, batch: batch)
    group.attach(engine, "group")
    metrics = engine.run([(y_pred, y)]).metrics
    assert metrics["acc"] == 0.5 and metrics["acc_tail"] == pytest.approx(1 / 3)
    assert metrics["group"] == {"acc": 0.5, "acc_tail": pytest.approx(1 / 3), "p": pytest.approx(2 / 3)}
    copy = MetricGroup({"acc": Accuracy(), "acc_tail": Accuracy(), "p": Precision()})
    copy.load_state_dict(group.state_dict())
    assert copy.compute()["acc"] == 0.5
    with pytest.raises(ValueError, match="Cannot load"):
        MetricGroup({"acc": Accuracy()}).load_state_dict(group.state_dict())


def test_metric_group_refuses_what_is_not_a_mapping_of_metrics() -> None:
    with pytest.raises(TypeError, match="mapping of name -> Metric"):
        MetricGroup([Accuracy()])  # type: ignore[arg-type]  # the error path under test
    with pytest.raises(TypeError, match="entry 'x' must be a Metric"):
        MetricGroup({"x": 1})  # type: ignore[dict-item]  # the error path under test
