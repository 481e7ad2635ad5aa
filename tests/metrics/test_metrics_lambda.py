"""MetricsLambda and metric arithmetic."""

from __future__ import annotations

import operator
from typing import Any

import pytest
import torch

from cadence import Engine
from cadence.metrics import Accuracy, Average, MetricsLambda, NotComputableError, Precision, Recall
from tests.metrics._data import multiclass


def feed(a: Average, b: Average, values: list[float]) -> None:
    for value in values:
        a.update(value)
        b.update(2 * value)


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
    a, b = Average(), Average()
    combined = build(a, b)
    assert isinstance(combined, MetricsLambda)
    feed(a, b, [1.0, 5.0])
    assert float(combined.compute()) == pytest.approx(expected)


def test_indexing_and_reductions_of_per_class_values() -> None:
    precision = Precision(average=False)
    derived = [precision[1], precision.mean(), precision.sum(), precision.max(), precision.min()]
    derived.append(precision.norm(p=1))  # any method of the computed value, as in Ignite
    precision.update(multiclass(0, 40, 3))
    per_class = precision.compute()
    expected = [per_class[1], per_class.mean(), per_class.sum(), per_class.max(), per_class.min(), per_class.norm(p=1)]
    for metric, value in zip(derived, expected, strict=True):
        assert metric.compute() == value


def test_an_unknown_method_of_the_result_names_where_it_was_asked_for() -> None:
    mean = Average()
    typo = mean.meen()
    mean.update(1.0)
    with pytest.raises(AttributeError, match=r"(?s)Metric result of type 'Tensor' has no attribute 'meen'.*test_"):
        typo.compute()
    with pytest.raises(AttributeError, match="has no attribute '_private'"):
        mean._private()  # private names are not forwarded


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
    engine = Engine(lambda e, b: b)
    with pytest.raises(ValueError, match="already updated by hand"):
        doubled.attach(engine, "x")
    doubled.reset()
    assert accuracy._num_examples == 0
    doubled.attach(engine, "x")
    assert doubled.engine is engine
    with pytest.raises(ValueError, match="already attached to an engine"):
        doubled.update(batch)


def test_building_a_lambda_resets_its_dependencies_as_in_ignite() -> None:
    a, b = Average(), Average()
    feed(a, b, [1.0, 5.0])
    total = MetricsLambda(lambda x, y: x + y, a, y=b)
    with pytest.raises(NotComputableError):
        total.compute()
    feed(a, b, [2.0])
    assert total.compute().item() == 6.0


def test_state_dict_holds_the_dependencies() -> None:
    a, b = Average(), Average()
    total = a + b
    feed(a, b, [1.0, 5.0])
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
