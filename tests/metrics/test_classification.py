"""Accuracy, TopKCategoricalAccuracy, Precision, Recall and Fbeta against scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence import Engine
from cadence.metrics import (
    Accuracy,
    Averaging,
    Fbeta,
    NotComputableError,
    Precision,
    Recall,
    TopKCategoricalAccuracy,
)
from cadence.metrics._inputs import DataKindChangedError
from tests.metrics._data import SETTINGS, binary, cuts, multiclass, multilabel, split

KINDS = ["binary", "multiclass", "multilabel"]
AVERAGES: list[Any] = [False, None, True, "micro", "macro", "weighted", "samples"]


def make_data(kind: str, seed: int, n: int, classes: int, spatial: bool) -> tuple[torch.Tensor, torch.Tensor]:
    extra = (3,) if spatial else ()
    if kind == "binary":
        return binary(seed, n, extra)
    if kind == "multiclass":
        return multiclass(seed, n, classes, extra)
    return multilabel(seed, n, classes, extra)


def as_sklearn(kind: str, y_pred: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Flatten to what sklearn takes: label vectors, or (samples, labels) indicator matrices."""
    if kind == "multiclass":
        return y.reshape(-1).numpy(), y_pred.argmax(dim=1).reshape(-1).numpy()
    if kind == "multilabel":
        labels = y.shape[1]
        return y.movedim(1, -1).reshape(-1, labels).numpy(), y_pred.movedim(1, -1).reshape(-1, labels).numpy()
    return y.reshape(-1).numpy(), y_pred.reshape(-1).numpy()


def feed(metric: Any, y_pred: torch.Tensor, y: torch.Tensor, points: list[int]) -> None:
    for batch in split([y_pred, y], points):
        metric.update(batch)


def sklearn_average(kind: str, average: Any, classes: int) -> dict[str, Any]:
    labels = [0, 1] if kind == "binary" else list(range(classes))
    if average is False and kind == "binary":
        return {"average": "binary"}
    if average is False or average is None:
        return {"average": None, "labels": labels}
    return {"average": "macro" if average is True else average, "labels": labels}


def check_close(value: Any, expected: Any) -> None:
    actual = value.numpy() if isinstance(value, torch.Tensor) else value
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)


data_args = {
    "seed": st.integers(0, 2**31),
    "n": st.integers(1, 40),
    "classes": st.integers(2, 5),
    "spatial": st.booleans(),
    "data": st.data(),
}


@pytest.mark.parametrize("kind", KINDS)
@settings(**SETTINGS)
@given(**data_args)
def test_accuracy_matches_sklearn(kind: str, seed: int, n: int, classes: int, spatial: bool, data: Any) -> None:
    y_pred, y = make_data(kind, seed, n, classes, spatial)
    accuracy = Accuracy(is_multilabel=kind == "multilabel")
    feed(accuracy, y_pred, y, data.draw(cuts(n)))
    y_true, y_hat = as_sklearn(kind, y_pred, y)
    check_close(accuracy.compute(), sk.accuracy_score(y_true, y_hat))


@pytest.mark.parametrize("metric_cls, sk_fn", [(Precision, sk.precision_score), (Recall, sk.recall_score)])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("average", AVERAGES)
@settings(**SETTINGS)
@given(**data_args)
def test_precision_recall_match_sklearn(
    metric_cls: Any, sk_fn: Any, kind: str, average: Any, seed: int, n: int, classes: int, spatial: bool, data: Any
) -> None:
    if average == "samples" and kind != "multilabel":
        return  # refused: tested in test_samples_average_needs_multilabel
    y_pred, y = make_data(kind, seed, n, classes, spatial)
    metric = metric_cls(average=average, is_multilabel=kind == "multilabel")
    feed(metric, y_pred, y, data.draw(cuts(n)))
    y_true, y_hat = as_sklearn(kind, y_pred, y)
    expected = sk_fn(y_true, y_hat, zero_division=0, **sklearn_average(kind, average, classes))
    check_close(metric.compute(), expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
@settings(**SETTINGS)
@given(**data_args)
def test_fbeta_matches_sklearn(
    kind: str, average: bool, beta: float, seed: int, n: int, classes: int, spatial: bool, data: Any
) -> None:
    y_pred, y = make_data(kind, seed, n, classes, spatial)
    precision = Precision(average=False, is_multilabel=kind == "multilabel")
    recall = Recall(average=False, is_multilabel=kind == "multilabel")
    fbeta = Fbeta(beta, average=average, precision=precision, recall=recall)
    feed(fbeta, y_pred, y, data.draw(cuts(n)))
    y_true, y_hat = as_sklearn(kind, y_pred, y)
    options = sklearn_average(kind, False, classes)
    expected = sk.fbeta_score(y_true, y_hat, beta=beta, zero_division=0, **options)
    if average:
        expected = np.mean(expected)
    np.testing.assert_allclose(np.asarray(fbeta.compute()), expected, rtol=1e-9, atol=1e-9)


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), classes=st.integers(3, 6), data=st.data())
def test_top_k_accuracy_matches_sklearn(seed: int, n: int, classes: int, data: Any) -> None:
    k = data.draw(st.integers(1, classes - 1))
    y_pred, y = multiclass(seed, n, classes)
    top_k = TopKCategoricalAccuracy(k=k)
    feed(top_k, y_pred, y, data.draw(cuts(n)))
    expected = sk.top_k_accuracy_score(y.numpy(), y_pred.numpy(), k=k, labels=list(range(classes)))
    check_close(top_k.compute(), expected)


def test_fbeta_builds_its_own_precision_and_recall_with_output_transform() -> None:
    y_pred, y = multiclass(0, 30, 4)
    f1 = Fbeta(1.0, output_transform=lambda out: (out["p"], out["t"]))
    f1.update((y_pred, y))
    expected = sk.f1_score(y.numpy(), y_pred.argmax(1).numpy(), average="macro", labels=list(range(4)), zero_division=0)
    assert f1.compute() == pytest.approx(expected)


EMPTY_MULTICLASS = (torch.empty(0, 3), torch.empty(0, dtype=torch.long))
EMPTY_MULTILABEL = (torch.empty(0, 3), torch.empty(0, 3))


@pytest.mark.parametrize(
    "make, empty",
    [
        (Accuracy, EMPTY_MULTICLASS),
        (lambda: Accuracy(is_multilabel=True), EMPTY_MULTILABEL),
        (lambda: TopKCategoricalAccuracy(k=2), EMPTY_MULTICLASS),
        (Precision, EMPTY_MULTICLASS),
        (lambda: Recall(average="macro"), EMPTY_MULTICLASS),
        (lambda: Precision(average="samples", is_multilabel=True), EMPTY_MULTILABEL),
        (lambda: Fbeta(1.0), EMPTY_MULTICLASS),
    ],
)
def test_compute_before_update_or_after_only_empty_batches_is_not_computable(make: Any, empty: Any) -> None:
    metric = make()
    with pytest.raises(NotComputableError, match="at least one"):
        metric.compute()
    metric.update(empty)
    with pytest.raises(NotComputableError, match="at least one"):
        metric.compute()


def test_accuracy_binary_with_class_dim_of_one() -> None:
    accuracy = Accuracy()
    accuracy.update((torch.tensor([[1], [0], [1]]), torch.tensor([1, 1, 1])))
    assert accuracy.compute() == pytest.approx(2 / 3)


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall])
def test_binary_values_other_than_0_and_1_are_refused(metric_cls: Any) -> None:
    metric = metric_cls()
    with pytest.raises(ValueError, match="comprised of 0's and 1's"):
        metric.update((torch.tensor([0.2, 0.9]), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="comprised of 0's and 1's"):
        metric.update((torch.tensor([0, 1]), torch.tensor([0, 2])))


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall])
def test_change_of_kind_or_number_of_classes_is_refused(metric_cls: Any) -> None:
    metric = metric_cls()
    metric.update(multiclass(0, 4, 3))
    with pytest.raises(DataKindChangedError, match="type has changed from multiclass to binary"):
        metric.update(binary(0, 4))
    with pytest.raises(RuntimeError, match="type has changed from multiclass to binary"):  # as Ignite
        metric.update(binary(0, 4))
    with pytest.raises(ValueError, match="number of classes has changed from 3 to 4"):
        metric.update(multiclass(0, 4, 4))
    metric.reset()
    metric.update(binary(0, 4))  # a reset forgets the kind


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall])
@pytest.mark.parametrize(
    "y_pred, y, message",
    [
        (torch.randn(4, 3), torch.zeros(5, dtype=torch.long), r"y must have shape of \(batch_size, ...\)"),
        (torch.randn(4, 3, 2), torch.zeros(4, 3, dtype=torch.long), r"y must have shape of \(batch_size, ...\)"),
        (torch.randn(4, 3, 2, 2), torch.zeros(4, dtype=torch.long), "y must have shape"),
        (torch.ones(4), torch.ones(5), "the same shape"),
    ],
)
def test_shape_mismatches_are_refused(metric_cls: Any, y_pred: torch.Tensor, y: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metric_cls().update((y_pred, y))


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall])
def test_multilabel_needs_same_shapes_and_several_labels(metric_cls: Any) -> None:
    with pytest.raises(ValueError, match="is_multilabel=True"):
        metric_cls(is_multilabel=True).update((torch.randn(4, 3), torch.zeros(4, dtype=torch.long)))
    with pytest.raises(ValueError, match="num_labels > 1"):
        metric_cls(is_multilabel=True).update((torch.ones(4, 1), torch.ones(4, 1)))
    with pytest.raises(ValueError, match="num_labels > 1"):
        metric_cls(is_multilabel=True).update((torch.ones(4), torch.ones(4)))


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall])
def test_multiclass_targets_must_be_integer_class_indices(metric_cls: Any) -> None:
    with pytest.raises(TypeError, match="integer class indices"):
        metric_cls().update((torch.randn(4, 3), torch.full((4,), 0.5)))


@pytest.mark.parametrize("metric_cls", [Precision, Recall])
@pytest.mark.parametrize("bad", [3, -1])
def test_class_indices_out_of_range_are_refused(metric_cls: Any, bad: int) -> None:
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        metric_cls().update((torch.randn(2, 3), torch.tensor([0, bad])))


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall, TopKCategoricalAccuracy])
@pytest.mark.parametrize("output", [torch.zeros(3), (torch.zeros(3),), ([0, 1], [0, 1]), "y"])
def test_update_needs_a_pair_of_tensors(metric_cls: Any, output: Any) -> None:
    with pytest.raises(TypeError, match=r"pair|tensors"):
        metric_cls().update(output)


@pytest.mark.parametrize("average", ["mean", "binary", 1, "MACRO"])
def test_unknown_average_is_refused(average: Any) -> None:
    with pytest.raises(ValueError, match="Unknown average"):
        Precision(average=average)


@pytest.mark.parametrize("data", [binary(0, 4), multiclass(0, 4, 3)])
def test_samples_average_needs_multilabel(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    recall = Recall(average="samples")
    with pytest.raises(ValueError, match="incompatible with binary and multiclass input data"):
        recall.update(data)


def test_averaging_enum_is_accepted() -> None:
    assert Precision(average=Averaging.MICRO)._config()["average"] == "micro"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"k": 0}, ValueError, "positive integer"),
        ({"k": True}, ValueError, "positive integer"),
    ],
)
def test_top_k_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        TopKCategoricalAccuracy(**kwargs)


@pytest.mark.parametrize(
    "y_pred, y, message",
    [
        (torch.randn(4, 3), torch.zeros(4, dtype=torch.long), "at least k classes"),
        (torch.randn(4, 6, 2), torch.zeros(4, 2, dtype=torch.long), r"shape \(batch_size, num_classes\)"),
        (torch.randn(4, 6), torch.zeros(3, dtype=torch.long), r"shape \(batch_size, num_classes\)"),
    ],
)
def test_top_k_bad_inputs(y_pred: torch.Tensor, y: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TopKCategoricalAccuracy(k=5).update((y_pred, y))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"beta": 0}, ValueError, "positive integer or float"),
        ({"beta": -1.0}, ValueError, "positive integer or float"),
        ({"beta": 1.0, "precision": Precision(average=False), "output_transform": lambda x: x}, ValueError, "be None"),
        ({"beta": 1.0, "recall": Recall(average=False), "device": "cpu"}, ValueError, "device should be None"),
        ({"beta": 1.0, "precision": Precision(average="macro")}, ValueError, "average=False"),
        ({"beta": 1.0, "recall": Precision(average=False)}, TypeError, "must be a Recall"),
    ],
)
def test_fbeta_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Fbeta(**kwargs)


@pytest.mark.parametrize("metric_cls", [Accuracy, Precision, Recall])
def test_sequence_transform_flattens_and_drops_ignored_positions(metric_cls: Any) -> None:
    y_pred = torch.tensor([[[0.1, 0.9], [0.8, 0.2], [0.5, 0.6]], [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]]])
    y = torch.tensor([[1, 0, -1], [0, 1, 2]])
    transform = metric_cls.get_sequence_transform(ignore_index=[-1, 2], output_transform=lambda out: out["pair"])
    flat_pred, flat_y = transform({"pair": (y_pred, y)})
    assert flat_y.tolist() == [1, 0, 0, 1]
    assert torch.equal(flat_pred, y_pred.reshape(-1, 2)[[0, 1, 3, 4]])
    assert metric_cls.get_sequence_transform()((y_pred, y))[1].shape == (6,)
    accuracy = Accuracy(output_transform=metric_cls.get_sequence_transform(ignore_index=-1))
    engine = Engine(lambda engine, batch: batch)
    accuracy.attach(engine, "accuracy")
    assert engine.run([(y_pred, y.clamp(max=1))]).metrics["accuracy"] == pytest.approx(5 / 5)
    with pytest.raises(ValueError, match="Expected y_pred to be 3D"):
        transform({"pair": (y_pred[0], y)})
    with pytest.raises(ValueError, match="incompatible shapes"):
        transform({"pair": (y_pred, y[:, :2])})


@pytest.mark.parametrize("metric_cls", [Precision, Recall])
def test_non_long_labels_warn_as_ignite_and_still_count(metric_cls: Any) -> None:
    with pytest.warns(RuntimeWarning, match="should be of dtype long when entry type is binary"):
        metric = metric_cls(average="macro")
        metric.update((torch.tensor([0.0, 1.0, 1.0]), torch.tensor([0, 1, 0])))
    assert metric.compute() == pytest.approx(0.75)
    with pytest.warns(RuntimeWarning, match="`y` should be of dtype long when entry type is multiclass"):
        metric_cls().update((torch.rand(3, 4), torch.tensor([0, 1, 3], dtype=torch.int32)))


@pytest.mark.parametrize("metric_cls", [Precision, Recall])
def test_a_refused_first_batch_leaves_no_kind_behind(metric_cls: Any) -> None:
    metric = metric_cls()
    with pytest.raises(ValueError, match="comprised of 0's and 1's"):
        metric.update((torch.tensor([0, 1]), torch.tensor([0, 2])))
    metric.update(multiclass(0, 4, 3))  # multiclass data is still welcome
    assert metric.compute().shape == (3,)


@settings(max_examples=30, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=40),
    average=st.sampled_from([False, "macro", "micro", "weighted"]),
    recall=st.booleans(),
)
def test_binary_states_compare_with_equality_and_resume_exactly(
    pairs: list[tuple[int, int]], average: Any, recall: bool
) -> None:
    """As Ignite's tests compare them (MetricGroup's test_update): ``a.state_dict() == b.state_dict()``."""
    kind = Recall if recall else Precision
    y_pred, y = (torch.tensor(column) for column in zip(*pairs, strict=True))
    first, second = kind(average=average), kind(average=average)
    first.update((y_pred, y))
    second.update((y_pred, y))
    assert first.state_dict() == second.state_dict()
    resumed = kind(average=average)
    resumed.load_state_dict(first.state_dict())
    assert torch.equal(resumed._counts, first._counts)
    first.update((y_pred, y))
    resumed.update((y_pred, y))
    assert torch.equal(torch.as_tensor(resumed.compute()), torch.as_tensor(first.compute()))
