"""The Metric base: attaching to engines, outputs, publishing, state_dict and resume."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.metrics import (
    ROC_AUC,
    Accuracy,
    Average,
    ConfusionMatrix,
    Fbeta,
    Frequency,
    IoU,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    MetricsLambda,
    MetricsResultMode,
    NotComputableError,
    Precision,
    R2Score,
    Recall,
    RootMeanSquaredError,
    RunningAverage,
    RunningEpochWise,
    TopKCategoricalAccuracy,
)
from tests.metrics._data import binary, generator, multiclass, multilabel


def batches_multiclass(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [multiclass(seed + i, 6, 4) for i in range(6)]


def batches_multilabel(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [multilabel(seed + i, 6, 3) for i in range(6)]


def batches_regression(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = generator(seed)
    return [(torch.randn(5, generator=g), torch.randn(5, generator=g)) for _ in range(6)]


def batches_scores(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = generator(seed)
    return [(torch.rand(5, generator=g), torch.tensor([0, 1, 0, 1, 1])) for _ in range(6)]


def batches_values(seed: int) -> list[torch.Tensor]:
    g = generator(seed)
    return [torch.randn(4, 2, generator=g) for _ in range(6)]


FACTORIES: list[tuple[str, Callable[[], Metric], Callable[[int], list[Any]]]] = [
    ("accuracy", Accuracy, batches_multiclass),
    ("accuracy_multilabel", lambda: Accuracy(is_multilabel=True), batches_multilabel),
    ("accuracy_binary", Accuracy, lambda seed: [binary(seed + i, 5) for i in range(6)]),
    ("top_k", lambda: TopKCategoricalAccuracy(k=2), batches_multiclass),
    ("precision_macro", lambda: Precision(average="macro"), batches_multiclass),
    ("recall_per_label", lambda: Recall(average=None, is_multilabel=True), batches_multilabel),
    ("precision_samples", lambda: Precision(average="samples", is_multilabel=True), batches_multilabel),
    ("fbeta", lambda: Fbeta(2.0), batches_multiclass),
    ("confusion_matrix", lambda: ConfusionMatrix(4), batches_multiclass),
    ("iou", lambda: IoU(ConfusionMatrix(4)), batches_multiclass),
    ("mae", MeanAbsoluteError, batches_regression),
    ("mse", MeanSquaredError, batches_regression),
    ("rmse", RootMeanSquaredError, batches_regression),
    ("r2", R2Score, batches_regression),
    ("roc_auc", ROC_AUC, batches_scores),
    ("average", Average, batches_values),
    ("loss", lambda: Loss(torch.nn.functional.mse_loss), batches_regression),
    ("running_average_output", lambda: RunningAverage(alpha=0.7, output_transform=lambda x: x), batches_values),
    ("running_average_metric", lambda: RunningAverage(Accuracy(), alpha=0.7), batches_multiclass),
]
IDS = [name for name, _, _ in FACTORIES]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return bool(a == b)


def feed(metric: Metric, batch: Any) -> None:
    if isinstance(metric, RunningAverage) and metric.src is not None:
        metric.src.update(batch)
    metric.update(batch)


@pytest.mark.parametrize("name, make, data", FACTORIES, ids=IDS)
def test_state_dict_round_trip_resumes_accumulation_exactly(name: str, make: Any, data: Any) -> None:
    batches = data(0)
    uninterrupted, first = make(), make()
    for batch in batches[:3]:
        feed(uninterrupted, batch)
        feed(first, batch)
    saved = first.state_dict()
    feed(first, batches[3])  # must not leak into the saved state
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    resumed = make()
    resumed.load_state_dict(torch.load(buffer, weights_only=True))  # plain data: loads without pickled classes
    for batch in batches[3:]:
        feed(uninterrupted, batch)
        feed(resumed, batch)
    assert same(resumed.compute(), uninterrupted.compute())
    assert same(resumed.compute(), resumed.compute())  # compute() leaves the state as it was


@pytest.mark.parametrize("name, make, data", FACTORIES, ids=IDS)
def test_loading_the_state_of_another_metric_type_is_refused(name: str, make: Any, data: Any) -> None:
    other = Average() if name != "average" else MeanSquaredError()
    with pytest.raises(ValueError, match="Cannot load"):
        make().load_state_dict(other.state_dict())


@pytest.mark.parametrize(
    "metric, state, message",
    [
        (ConfusionMatrix(3), ConfusionMatrix(4).state_dict(), "made with {'num_classes': 4"),
        (Precision(average="macro"), Precision(average="micro").state_dict(), "'average': 'micro'"),
        (Accuracy(), {"metric": "Accuracy"}, "keys 'metric', 'config' and 'state'"),
        (Accuracy(), {**Accuracy().state_dict(), "state": {"_num_correct": torch.tensor(1)}}, "has the entries"),
        (MeanAbsoluteError(), {**MeanAbsoluteError().state_dict(), "state": {
            "_sum_of_errors": torch.zeros(2), "_num_examples": 0}}, r"expected a tensor of shape \(\)"),
        (Precision(), {**Precision().state_dict(), "state": {**Precision().state_dict()["state"],
            "_counts": torch.zeros(3, 5), "_type": "multiclass", "_num_classes": 4}}, "do not match 4 classes"),
    ],
)  # fmt: skip
def test_loading_a_state_of_another_shape_or_setting_is_refused(metric: Metric, state: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metric.load_state_dict(state)


def test_loading_something_else_than_a_mapping_is_refused() -> None:
    with pytest.raises(TypeError, match="Argument state_dict should be a dictionary"):
        Accuracy().load_state_dict([1, 2])  # type: ignore[arg-type]  # the error path under test


def checkpointed_run(make: Callable[[], Metric], usage: Any, stop_at: int | None) -> tuple[Any, Any, Any]:
    """Run 2 epochs of 5; with ``stop_at``, checkpoint there, stop, and resume in a fresh engine and metric."""
    data = batches_multiclass(1) + batches_multiclass(9)[:4]
    engine, metric = Engine(lambda engine, batch: batch), make()
    metric.attach(engine, "m", usage=usage)
    saved: dict[str, Any] = {}
    if stop_at is not None:

        @engine.on(Events.ITERATION_COMPLETED(once=stop_at))
        def checkpoint(engine: Engine[Any]) -> None:
            saved.update(engine=engine.state_dict(), metric=metric.state_dict())
            engine.terminate()

    state = engine.run(data, max_epochs=2, epoch_length=5)
    if stop_at is not None:
        engine, metric = Engine(lambda engine, batch: batch), make()
        metric.attach(engine, "m", usage=usage)
        engine.load_state_dict(saved["engine"])
        metric.load_state_dict(saved["metric"])
        state = engine.run(data)
    return state.epoch, state.iteration, state.metrics["m"]


@pytest.mark.parametrize("stop_at", [2, 5, 7, 9])
@pytest.mark.parametrize(
    "make, usage",
    [
        (Accuracy, "epoch_wise"),
        (lambda: ConfusionMatrix(4), "epoch_wise"),
        (lambda: RunningAverage(Accuracy(), alpha=0.5), RunningEpochWise()),
        (lambda: Precision(average="weighted"), "running_batch_wise"),
        (lambda: RunningAverage(Accuracy(), alpha=0.5), "running_batch_wise"),
        (lambda: RunningAverage(Accuracy(), alpha=0.5), "single_epoch_running_batch_wise"),
    ],
)
def test_a_mid_epoch_checkpoint_resumes_the_metric_exactly(make: Any, usage: Any, stop_at: int) -> None:
    expected = checkpointed_run(make, usage, None)
    resumed = checkpointed_run(make, usage, stop_at)
    assert resumed[:2] == expected[:2] == (2, 10)
    assert same(resumed[2], expected[2])


def continued_run(make: Callable[[], Metric], usage: Any, stop_at: int | None, how: str) -> list[Any]:
    """Run 3 epochs of 4 in one engine, stopped once after ``stop_at`` iterations and run again; the metric
    values published at each epoch's end."""
    failed: list[int] = []

    def step(engine: Engine[Any], batch: float) -> float:
        if how == "exception" and engine.state.iteration == stop_at and not failed:
            failed.append(1)
            raise RuntimeError("stopped")  # the failed batch is fed again by the continued run
        return batch * engine.state.epoch

    engine: Engine[Any] = Engine(step)
    make().attach(engine, "m", usage=usage)
    published: list[Any] = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: published.append(e.state.metrics["m"]))
    if how == "terminate" and stop_at is not None:
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.terminate())
    data = [1.0, 2.0, 3.0, 6.0]
    try:
        engine.run(data, max_epochs=3)
    except RuntimeError:
        assert failed
    if stop_at is not None:
        engine.run(data, max_epochs=3)
    return published


@pytest.mark.parametrize("how", ["terminate", "exception"])
@pytest.mark.parametrize("stop_at", [1, 3, 6])
@pytest.mark.parametrize(
    "make, usage",
    [
        (Average, "epoch_wise"),
        (Average, RunningEpochWise()),  # reset on STARTED, which a continued run fires again
        (lambda: MetricsLambda(lambda a, b: a - b, Average(), Average(output_transform=lambda x: x / 2)), "epoch_wise"),
        (lambda: RunningAverage(output_transform=lambda x: x, alpha=0.5), "single_epoch_running_batch_wise"),
    ],
)
def test_a_metric_continued_mid_epoch_publishes_what_a_never_stopped_run_does(
    make: Any, usage: Any, stop_at: int, how: str
) -> None:
    expected = continued_run(make, usage, None, how)
    assert len(expected) == 3
    assert continued_run(make, usage, stop_at, how) == expected


def test_reset_after_a_finished_epoch_is_not_skipped_on_resume() -> None:
    # A checkpoint taken at an epoch end holds the finished epoch: the next epoch must start from zero.
    assert checkpointed_run(Accuracy, "epoch_wise", 5) == checkpointed_run(Accuracy, "epoch_wise", None)


def test_attach_publishes_numbers_and_detach_removes_every_handler() -> None:
    engine = Engine(lambda engine, batch: batch)
    accuracy, cm = Accuracy(), ConfusionMatrix(4)
    accuracy.attach(engine, "accuracy")
    cm.attach(engine, "cm")
    assert accuracy.is_attached(engine) and not accuracy.is_attached(engine, "batch_wise")
    metrics = engine.run(batches_multiclass(0)).metrics
    assert isinstance(metrics["accuracy"], float)
    assert isinstance(metrics["cm"], torch.Tensor) and metrics["cm"].shape == (4, 4)
    accuracy.detach(engine)
    accuracy.detach(engine)  # detaching twice is harmless
    assert not accuracy.is_attached(engine)
    for event in (Events.EPOCH_STARTED, Events.ITERATION_COMPLETED, Events.EPOCH_COMPLETED):
        assert not engine.has_event_handler(accuracy.started, event)
        assert not engine.has_event_handler(accuracy.iteration_completed, event)
        assert not engine.has_event_handler(accuracy.completed, event)
    engine.state.metrics.clear()
    assert set(engine.run(batches_multiclass(0)).metrics) == {"cm"}


def test_one_metric_attached_under_two_names_is_updated_once() -> None:
    engine = Engine(lambda engine, batch: batch)
    mean = Average()
    mean.attach(engine, "a")
    mean.attach(engine, "b")
    metrics = engine.run([1.0, 3.0]).metrics
    assert metrics == {"a": 2.0, "b": 2.0}


@pytest.mark.parametrize(
    "engine, name, error, message",
    [
        (object(), "m", TypeError, "needs a cadence Engine"),
        (Engine(lambda e, b: b), "", ValueError, "non-empty string"),
        (Engine(lambda e, b: b), 3, ValueError, "non-empty string"),
    ],
)
def test_attach_bad_arguments(engine: Any, name: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Accuracy().attach(engine, name)


def test_output_transform_and_mapping_outputs() -> None:
    engine = Engine(lambda engine, batch: {"y_pred": batch[0], "y": batch[1], "loss": 0.0})
    Accuracy().attach(engine, "from_keys")
    Accuracy(lambda out: (out["y_pred"], out["y"])).attach(engine, "from_transform")
    metrics = engine.run(batches_multiclass(0)).metrics
    assert metrics["from_keys"] == metrics["from_transform"]


def test_a_mapping_output_without_the_required_keys_is_refused() -> None:
    engine = Engine(lambda engine, batch: {"pred": batch[0], "y": batch[1]})
    Accuracy().attach(engine, "accuracy")
    with pytest.raises(ValueError, match=r"should contain \('y_pred', 'y'\) keys, but given \['pred', 'y'\]"):
        engine.run(batches_multiclass(0))


def test_a_mapping_output_for_a_metric_without_keys_is_refused() -> None:
    engine = Engine(lambda engine, batch: {"loss": 1.0})
    MetricsLambda(lambda: 1).attach(engine, "x")
    Average().attach(engine, "average")
    with pytest.raises(TypeError, match="output for Average metric should be a tuple/list"):
        engine.run([0])


def test_lists_of_items_are_unrolled_into_one_update_each() -> None:
    items = [multiclass(i, 1, 3) for i in range(4)]
    y_preds, ys = [p[0] for p, _ in items], [y[0] for _, y in items]
    engine = Engine(lambda engine, batch: (y_preds, ys))
    Accuracy().attach(engine, "unrolled")
    reference = Accuracy()
    for item in items:
        reference.update(item)
    assert engine.run([0]).metrics["unrolled"] == reference.compute()
    mean = Average(skip_unrolling=True)
    mean.update(torch.tensor([1.0, 3.0]))
    assert mean.compute().tolist() == [1.0, 3.0]


def test_unrolled_lists_of_different_lengths_are_refused() -> None:
    engine = Engine(lambda engine, batch: ([torch.zeros(3)], [0, 1]))
    Accuracy().attach(engine, "accuracy")
    with pytest.raises(ValueError, match="2 items of the same length"):
        engine.run([0])
    engine = Engine(lambda engine, batch: ([0.0], [0.0], [0.0]))
    Average().attach(engine, "mean")
    with pytest.raises(ValueError, match="2 items of the same length"):
        engine.run([0])


@pytest.mark.parametrize(
    "mode, keys",
    [
        ("both", {"stats", "mean", "double"}),
        ("flatten", {"mean", "double"}),
        ("named", {"stats"}),
        (MetricsResultMode.NAMED, {"stats"}),
    ],
)
def test_a_mapping_result_is_published_as_its_result_mode_says(mode: Any, keys: set[str]) -> None:
    engine = Engine(lambda engine, batch: batch)
    mean = Average()
    MetricsLambda(lambda m: {"mean": m, "double": 2 * m}, mean, metrics_result_mode=mode).attach(engine, "stats")
    metrics = engine.run([1.0, 3.0]).metrics
    assert set(metrics) == keys
    if "mean" in keys:
        assert metrics["mean"] == 2.0 and metrics["double"] == 4.0
    if "stats" in keys:
        assert set(metrics["stats"]) == {"mean", "double"}


def test_a_mapping_result_with_the_metric_name_as_a_key_is_refused() -> None:
    engine = Engine(lambda engine, batch: batch)
    MetricsLambda(lambda m: {"stats": m}, Average()).attach(engine, "stats")
    with pytest.raises(ValueError, match="'stats' is conflicting with mapping keys"):
        engine.run([1.0])
    flat = Engine(lambda engine, batch: batch)
    MetricsLambda(lambda m: {"stats": m}, Average(), metrics_result_mode="flatten").attach(flat, "stats")
    assert flat.run([1.0]).metrics == {"stats": 1.0}


def test_an_unknown_result_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="metrics_result_mode should be one of"):
        MetricsLambda(lambda: 1, metrics_result_mode="nested")


def test_compute_is_repeatable_and_reset_starts_over() -> None:
    accuracy = Accuracy()
    accuracy.update(multiclass(0, 10, 3))
    assert accuracy.compute() == accuracy.compute()
    accuracy.reset()
    with pytest.raises(NotComputableError):
        accuracy.compute()


def test_output_transform_must_be_callable() -> None:
    with pytest.raises(TypeError, match="output_transform should be callable"):
        Accuracy(output_transform=3)  # type: ignore[arg-type]  # the error path under test


def test_frequency_state_continues_the_clock() -> None:
    frequency = Frequency()
    frequency.update(100)
    saved = frequency.state_dict()
    resumed = Frequency()
    resumed.load_state_dict(saved)
    resumed.update(100)
    assert resumed.state_dict()["state"]["_count"] == 200
    assert resumed.state_dict()["state"]["_elapsed"] >= saved["state"]["_elapsed"]
