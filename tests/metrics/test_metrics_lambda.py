"""MetricsLambda and metric arithmetic."""

from __future__ import annotations

import operator
from typing import Any

import pytest
import torch

from cadence import Engine
from cadence.metrics import Accuracy, Average, MetricsLambda, Precision, Recall
from tests.metrics._data import multiclass


def averages(values: list[float]) -> tuple[Average, Average]:
    a, b = Average(), Average()
    for value in values:
        a.update(value)
        b.update(2 * value)
    return a, b


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda a, b: a + b, 9.0),
        (lambda a, b: a + 1, 4.0),
        (lambda a, b: 1 + a, 4.0),
        (lambda a, b: b - a, 3.0),
        (lambda a, b: 10 - a, 7.0),
        (lambda a, b: a * b, 18.0),
        (lambda a, b: 2 * a, 6.0),
        (lambda a, b: b / a, 2.0),
        (lambda a, b: 9 / a, 3.0),
        (lambda a, b: b // 4, 1.0),
        (lambda a, b: b % 4, 2.0),
        (lambda a, b: a**2, 9.0),
        (lambda a, b: 2**a, 8.0),
        (lambda a, b: -a, -3.0),
        (lambda a, b: abs(-a), 3.0),
        (lambda a, b: (a * 4).sqrt(), 12**0.5),
        (lambda a, b: a.item(), 3.0),
    ],
)
def test_arithmetic_builds_lazy_metrics(build: Any, expected: float) -> None:
    a, b = averages([1.0, 5.0])
    combined = build(a, b)
    assert isinstance(combined, MetricsLambda)
    assert float(combined.compute()) == pytest.approx(expected)


def test_indexing_and_reductions_of_per_class_values() -> None:
    precision = Precision(average=False)
    precision.update(multiclass(0, 40, 3))
    per_class = precision.compute()
    assert precision[1].compute() == per_class[1]
    assert precision.mean().compute() == per_class.mean()
    assert precision.sum().compute() == per_class.sum()
    assert precision.max().compute() == per_class.max()
    assert precision.min().compute() == per_class.min()


def test_attaching_a_lambda_attaches_its_dependencies_once() -> None:
    batches = [multiclass(i, 10, 3) for i in range(3)]
    precision, recall = Precision(average=False), Recall(average=False)
    f1 = (precision * recall * 2 / (precision + recall + 1e-20)).mean()
    engine = Engine(lambda engine, batch: batch)
    f1.attach(engine, "f1")
    assert f1.is_attached(engine)
    reference_p, reference_r = Precision(average=False), Recall(average=False)
    for batch in batches:
        reference_p.update(batch)
        reference_r.update(batch)
    p, r = reference_p.compute(), reference_r.compute()
    expected = (p * r * 2 / (p + r + 1e-20)).mean().item()
    assert engine.run(batches, max_epochs=2).metrics["f1"] == pytest.approx(expected)
    f1.detach(engine)
    assert not f1.is_attached(engine)
    assert not engine.has_event_handler(precision.iteration_completed)


@pytest.mark.parametrize("dependency_first", [True, False])
def test_detaching_a_lambda_keeps_a_dependency_attached_on_its_own(dependency_first: bool) -> None:
    engine = Engine(lambda e, b: b)
    accuracy = Accuracy()
    scaled = accuracy * 100
    if dependency_first:
        accuracy.attach(engine, "acc")
    scaled.attach(engine, "acc100")
    if not dependency_first:
        accuracy.attach(engine, "acc")
    scaled.detach(engine)
    assert accuracy.is_attached(engine) and not scaled.is_attached(engine)
    batches = [(torch.eye(2), torch.tensor([0, 1])), (torch.eye(2), torch.tensor([0, 0]))]
    assert engine.run(batches).metrics == {"acc": 0.75}
    accuracy.detach(engine)
    assert not engine.has_event_handler(accuracy.iteration_completed)
    assert not engine.has_event_handler(accuracy.started)


def test_detaching_a_nested_lambda_removes_the_handlers_it_added() -> None:
    engine = Engine(lambda e, b: b)
    precision, recall = Precision(average=False), Recall(average=False)
    f1 = (precision * recall * 2 / (precision + recall + 1e-20)).mean()
    f1.attach(engine, "f1")
    f1.detach(engine)
    for metric in (precision, recall):
        assert not engine.has_event_handler(metric.iteration_completed)
        assert not engine.has_event_handler(metric.started)
    assert engine.run([(torch.eye(2), torch.tensor([0, 1]))]).metrics == {}


def test_update_by_hand_updates_each_dependency_once_and_is_refused_when_attached() -> None:
    accuracy = Accuracy()
    doubled = MetricsLambda(operator.add, accuracy, accuracy)
    batch = (torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0]))
    doubled.update(batch)
    assert accuracy._num_examples == 2
    assert doubled.compute() == 1.0
    doubled.reset()
    assert accuracy._num_examples == 0
    engine = Engine(lambda e, b: b)
    doubled.attach(engine, "x")
    with pytest.raises(RuntimeError, match="attached to an engine"):
        doubled.update(batch)


def test_building_a_lambda_keeps_what_the_metric_accumulated() -> None:
    a, _ = averages([1.0, 5.0])
    assert (a + 0).compute().item() == 3.0


def test_state_dict_holds_the_dependencies() -> None:
    a, b = averages([1.0, 5.0])
    total = a + b
    c, d = Average(), Average()
    restored = c + d
    restored.load_state_dict(total.state_dict())
    assert restored.compute().item() == 9.0
    with pytest.raises(ValueError, match="depends on 1 metrics, but the state holds 2"):
        (c + 1).load_state_dict(total.state_dict())
    with pytest.raises(ValueError, match="not made by one"):
        restored.load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="not made by one"):
        restored.load_state_dict([])  # type: ignore[arg-type]  # the error path under test


def test_function_must_be_callable() -> None:
    with pytest.raises(TypeError, match="needs a callable"):
        MetricsLambda(3)  # type: ignore[arg-type]  # the error path under test
