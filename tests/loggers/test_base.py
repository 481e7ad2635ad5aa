"""The shared logger base and its handlers, through real engine runs with a recording logger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.loggers import (
    BaseLogger,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsScalarHandler,
    global_step_from_engine,
)
from tests.loggers._training import make_training


class RecordingLogger(BaseLogger):
    def __init__(self) -> None:
        self.rows: list[tuple[str, int, dict[str, float]]] = []
        self.closed = False

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        self.rows.append((event_name, step, dict(scalars)))

    def close(self) -> None:
        self.closed = True


def test_output_handler_logs_output_metrics_and_state_attributes() -> None:
    trainer, _, _, data = make_training()
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))

    @trainer.on(Events.EPOCH_COMPLETED)
    def compute(engine: Engine[Any]) -> None:
        engine.state.metrics.update(mae=torch.tensor(0.5), per_class=torch.tensor([0.1, 0.2]), extra={"a": 1})

    trainer.state.alpha = 3
    logger = RecordingLogger()
    logger.attach_output_handler(
        trainer, Events.ITERATION_COMPLETED(every=2), tag="train", output_transform=lambda loss: {"loss": loss}
    )
    logger.attach_output_handler(
        trainer, Events.EPOCH_COMPLETED, tag="val", metric_names="all", state_attributes=["alpha"]
    )
    trainer.run(data, max_epochs=2)
    iteration_rows = [row for row in logger.rows if row[0] == "iteration_completed"]
    assert [row[1] for row in iteration_rows] == [2, 4, 6, 8, 10, 12]
    assert [row[2]["train/loss"] for row in iteration_rows] == pytest.approx(losses[1::2])
    epoch_rows = [row for row in logger.rows if row[0] == "epoch_completed"]
    assert [row[1] for row in epoch_rows] == [1, 2]
    assert epoch_rows[0][2] == {
        "val/mae": 0.5,
        "val/per_class/0": pytest.approx(0.1),
        "val/per_class/1": pytest.approx(0.2),
        "val/extra/a": 1.0,
        "val/alpha": 3.0,
    }


def test_output_handler_number_output_and_evaluator_step_from_trainer() -> None:
    trainer, _, _, data = make_training()
    evaluator: Engine[float] = Engine(lambda e, b: 0.25)
    evaluator.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(accuracy=0.75))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0, 0]))
    logger = RecordingLogger()
    logger.attach_output_handler(
        evaluator,
        Events.COMPLETED,
        tag="validation",
        metric_names=["accuracy"],
        output_transform=lambda out: out,
        global_step_transform=global_step_from_engine(trainer),
    )
    trainer.run(data, max_epochs=3)
    assert logger.rows == [
        ("completed", epoch, {"validation/accuracy": 0.75, "validation/output": 0.25}) for epoch in (1, 2, 3)
    ]


def test_events_list_attaches_each_event_and_one_handle_removes_all() -> None:
    trainer, _, optimizer, data = make_training()
    logger = RecordingLogger()
    handle = logger.attach_opt_params_handler(trainer, Events.EPOCH_STARTED | Events.COMPLETED, optimizer)
    trainer.run(data, max_epochs=2)
    assert [(event, step) for event, step, _ in logger.rows] == [
        ("epoch_started", 1),
        ("epoch_started", 2),
        ("completed", 2),
    ]
    handle.remove()
    trainer.run(data, max_epochs=2)
    assert len(logger.rows) == 3


def test_optimizer_params_handler_logs_every_group() -> None:
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(
        [{"params": [model.weight], "lr": 0.1}, {"params": [model.bias], "lr": 0.01}], lr=0.1, momentum=0.9
    )
    trainer: Engine[None] = Engine(lambda e, b: None)
    logger = RecordingLogger()
    logger.attach(trainer, OptimizerParamsHandler(optimizer, "momentum", tag="opt"), Events.ITERATION_STARTED)
    logger.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer)
    trainer.run([0])
    assert logger.rows == [
        ("iteration_started", 1, {"opt/momentum/group_0": 0.9, "opt/momentum/group_1": 0.9}),
        ("iteration_started", 1, {"lr/group_0": 0.1, "lr/group_1": 0.01}),
    ]


def test_grads_handler_logs_each_parameter_gradient_norm() -> None:
    trainer, model, _, data = make_training()
    expected: list[dict[str, float]] = []

    @trainer.on(Events.ITERATION_COMPLETED)
    def reference(engine: Engine[Any]) -> None:
        expected.append({name: p.grad.norm().item() for name, p in model.named_parameters() if p.grad is not None})

    logger = RecordingLogger()
    logger.attach_grad_norm_handler(trainer, Events.ITERATION_COMPLETED, model, tag="train")
    trainer.run(data)
    assert len(logger.rows) == len(data)
    for (_, _, scalars), want in zip(logger.rows, expected, strict=True):
        assert scalars == {
            f"train/grads_norm/{name.replace('.', '/')}": pytest.approx(value) for name, value in want.items()
        }


@pytest.mark.parametrize(
    ("whitelist", "expected"),
    [
        (["0"], {"grads_norm/0/weight", "grads_norm/0/bias"}),
        (["2.bias"], {"grads_norm/2/bias"}),
        (lambda name, p: p.ndim == 1, {"grads_norm/0/bias", "grads_norm/2/bias"}),
    ],
)
def test_grads_handler_whitelist(whitelist: Any, expected: set[str]) -> None:
    trainer, model, _, data = make_training()
    logger = RecordingLogger()
    logger.attach_grad_norm_handler(trainer, Events.ITERATION_COMPLETED, model, whitelist=whitelist)
    trainer.run(data[:1])
    assert set(logger.rows[0][2]) == expected


def test_grads_handler_skips_parameters_without_gradients_and_custom_reduction() -> None:
    model = torch.nn.Linear(2, 1)
    model.weight.grad = torch.full((1, 2), -3.0)
    trainer: Engine[None] = Engine(lambda e, b: None)
    logger = RecordingLogger()
    logger.attach(trainer, GradsScalarHandler(model, reduction=torch.min), Events.COMPLETED)
    trainer.run([0])
    assert logger.rows == [("completed", 1, {"grads_min/weight": -3.0})]


def test_context_manager_closes_the_logger() -> None:
    with RecordingLogger() as logger:
        assert isinstance(logger, RecordingLogger)
    assert logger.closed


def test_warnings_for_missing_metrics_and_non_numbers() -> None:
    trainer: Engine[Any] = Engine(lambda e, b: "text")
    logger = RecordingLogger()
    logger.attach_output_handler(
        trainer, Events.ITERATION_COMPLETED, tag="t", metric_names=["absent"], output_transform=lambda out: out
    )
    with pytest.warns(UserWarning) as record:
        trainer.run([0, 0])
    messages = [str(w.message) for w in record]
    assert sum("'absent'" in m for m in messages) == 1
    assert sum("cannot log 'output'" in m for m in messages) == 1
    assert logger.rows == [("iteration_completed", 1, {}), ("iteration_completed", 2, {})]


def test_handler_and_attach_errors() -> None:
    trainer: Engine[None] = Engine(lambda e, b: None)
    logger = RecordingLogger()
    with pytest.raises(ValueError, match="Either metric_names, output_transform or state_attributes"):
        OutputHandler("t")
    with pytest.raises(TypeError, match="tag"):
        OutputHandler(3, metric_names="all")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metric_names should be either a list or equal 'all'"):
        OutputHandler("t", metric_names="accuracy")
    with pytest.raises(TypeError, match="output_transform should be a function"):
        OutputHandler("t", output_transform=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="global_step_transform should be a function"):
        OutputHandler("t", metric_names="all", global_step_transform=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state_attributes"):
        OutputHandler("t", state_attributes="alpha")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Engine"):
        logger.attach("trainer", OutputHandler("t", metric_names="all"), Events.COMPLETED)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="log_handler"):
        logger.attach(trainer, "handler", Events.COMPLETED)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="Unknown event name 'no_such_event'"):
        logger.attach(trainer, OutputHandler("t", metric_names="all"), "no_such_event")
    with pytest.raises(TypeError, match=r"Argument optimizer should be torch\.optim\.Optimizer"):
        OptimizerParamsHandler("sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'betas'"):
        OptimizerParamsHandler(torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1), "betas")
    with pytest.raises(TypeError, match=r"Argument model should be of type torch\.nn\.Module"):
        GradsScalarHandler("model")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="whitelist"):
        GradsScalarHandler(torch.nn.Linear(1, 1), whitelist="weight")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Argument reduction should be callable"):
        GradsScalarHandler(torch.nn.Linear(1, 1), reduction=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Output of the reduction function should be a scalar"):
        WeightsScalarHandler(torch.nn.Linear(1, 1), reduction=lambda t: t)
    logger.attach_output_handler(
        trainer, Events.COMPLETED, tag="t", metric_names="all", global_step_transform=lambda e, ev: "one"
    )
    with pytest.raises(TypeError, match="global_step must be int"):
        trainer.run([0])


def test_nested_sequences_and_mappings_are_flattened() -> None:
    trainer: Engine[Any] = Engine(lambda e, b: None)
    trainer.add_event_handler(
        Events.COMPLETED,
        lambda e: e.state.metrics.update(a=(22, [33, -5.5], {"e": 32.1}), flag=True, one=torch.tensor([4.0])),
    )
    logger = RecordingLogger()
    logger.attach_output_handler(trainer, Events.COMPLETED, "t", "all")
    trainer.run([0])
    assert logger.rows == [
        (
            "completed",
            1,
            {"t/a/0": 22.0, "t/a/1/0": 33.0, "t/a/1/1": -5.5, "t/a/2/e": 32.1, "t/flag": 1.0, "t/one/0": 4.0},
        )
    ]


def test_weights_scalar_handler_logs_each_selected_weight() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    for parameter in model.parameters():
        torch.nn.init.constant_(parameter, 2.0)
    trainer: Engine[None] = Engine(lambda e, b: None)
    logger = RecordingLogger()
    logger.attach(trainer, WeightsScalarHandler(model, tag="m", whitelist=["1"]), Events.EPOCH_COMPLETED)
    logger.attach(trainer, WeightsScalarHandler(model, reduction=torch.max, whitelist=["0.bias"]), Events.COMPLETED)
    trainer.run([0], max_epochs=2)
    assert logger.rows == [
        ("epoch_completed", 1, {"m/weights_norm/1/weight": pytest.approx(8**0.5), "m/weights_norm/1/bias": 2.0}),
        ("epoch_completed", 2, {"m/weights_norm/1/weight": pytest.approx(8**0.5), "m/weights_norm/1/bias": 2.0}),
        ("completed", 2, {"weights_max/0/bias": 2.0}),
    ]


def test_optimizer_like_object_with_param_groups_is_accepted() -> None:
    class Wrapped:  # as DeepSpeed's optimizers: no torch Optimizer, but param_groups
        def __init__(self) -> None:
            self.param_groups = [{"lr": 0.5}]

    handler = OptimizerParamsHandler(Wrapped())  # type: ignore[arg-type]
    assert handler.collect() == {"lr/group_0": 0.5}


def test_attach_passes_extra_arguments_and_custom_events() -> None:
    trainer: Engine[None] = Engine(lambda e, b: None)
    trainer.register_events("custom", event_to_attr={"custom": "custom_count"})
    trainer.state.custom_count = 0

    @trainer.on(Events.ITERATION_COMPLETED)
    def fire(engine: Engine[None]) -> None:
        engine.state.custom_count += 1
        engine.fire_event("custom")

    calls: list[tuple[str, int, str]] = []
    logger = RecordingLogger()
    logger.attach(trainer, lambda e, lg, ev, note: calls.append((ev, e.state.custom_count, note)), "custom", note="x")
    trainer.run([0, 0])
    assert calls == [("custom", 1, "x"), ("custom", 2, "x")]


class IgniteStyleLogger(BaseLogger):
    """A logger with handlers of its own, as Ignite's loggers are written."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float]] = []

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> Any:
        handler = OutputHandler(*args, **kwargs)
        return lambda engine, logger, event_name: self.seen.append(handler.collect(engine))

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> Any:
        handler = OptimizerParamsHandler(*args, **kwargs)
        return lambda engine, logger, event_name: self.seen.append(handler.collect())


def test_logger_with_its_own_handlers_and_one_without_any() -> None:
    trainer, _, optimizer, data = make_training(batches=1)
    logger = IgniteStyleLogger()
    logger.attach_output_handler(trainer, Events.COMPLETED, "train", None, lambda loss: {"loss": 1.0})
    logger.attach_opt_params_handler(trainer, Events.COMPLETED, optimizer, "lr", "opt")
    trainer.run(data)
    assert logger.seen == [{"train/loss": 1.0}, {"opt/lr/group_0": 0.05}]
    bare = BaseLogger()
    bare.attach_output_handler(trainer, Events.COMPLETED, "train", output_transform=lambda loss: loss)
    with pytest.raises(NotImplementedError, match="implement write_scalars"):
        trainer.run(data)
