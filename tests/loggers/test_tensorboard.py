"""TensorboardLogger: the event files hold the logged scalars, read back with tensorboard's reader."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import cadence.loggers.tensorboard as tensorboard_module
from cadence import Events
from cadence.loggers import CSVLogger, TensorboardLogger
from cadence.loggers.tensorboard import (
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsHistHandler,
    WeightsScalarHandler,
)
from tests.loggers._training import make_training

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = event_accumulator.EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def test_event_files_hold_the_logged_scalars(tmp_path: Path) -> None:
    trainer, model, optimizer, data = make_training()
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    with TensorboardLogger(log_dir=tmp_path) as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=lambda loss: {"loss": loss}
        )
        logger.attach_opt_params_handler(trainer, Events.EPOCH_STARTED, optimizer, tag="training")
        logger.attach_grad_norm_handler(trainer, Events.EPOCH_COMPLETED, model)
        trainer.run(data, max_epochs=2)
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["training/loss"]] == list(range(1, 13))
    assert [value for _, value in scalars["training/loss"]] == pytest.approx(losses, rel=1e-6)
    assert scalars["training/lr/group_0"] == [(1, pytest.approx(0.05)), (2, pytest.approx(0.05))]
    assert [step for step, _ in scalars["grads_norm/0/weight"]] == [1, 2]
    assert {"grads_norm/0/bias", "grads_norm/2/weight", "grads_norm/2/bias"} <= set(scalars)


def test_closed_logger_refuses_writes(tmp_path: Path) -> None:
    logger = TensorboardLogger(tmp_path)
    logger.close()
    with pytest.raises(ValueError, match="closed"):
        logger.write_scalars({"loss": 1.0}, 1, "completed")


def test_other_ranks_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensorboard_module, "get_rank", lambda: 1)
    with TensorboardLogger(tmp_path / "run") as logger:
        logger.write_scalars({"loss": 1.0}, 1, "completed")
        logger.writer.add_histogram("weights", [1.0, 2.0], 1)
        logger.add_text("note", "hello")  # the writer's methods, through the logger
    assert list(tmp_path.iterdir()) == []


def test_handlers_write_scalars_and_histograms(tmp_path: Path) -> None:
    trainer, model, optimizer, data = make_training()
    with TensorboardLogger(log_dir=tmp_path) as logger:
        logger.attach(trainer, WeightsScalarHandler(model, whitelist=["0"]), Events.EPOCH_COMPLETED)
        logger.attach(trainer, GradsScalarHandler(model, tag="g"), Events.EPOCH_COMPLETED)
        logger.attach(trainer, WeightsHistHandler(model, tag="m"), Events.EPOCH_COMPLETED)
        logger.attach(trainer, GradsHistHandler(model, whitelist=["2.bias"]), Events.EPOCH_COMPLETED)
        logger.attach(trainer, OptimizerParamsHandler(optimizer, tag="opt"), Events.COMPLETED)
        logger.add_text("note", "hello")
        trainer.run(data, max_epochs=2)
    scalars = read_scalars(tmp_path)
    assert scalars["weights_norm/0/weight"][-1] == (2, pytest.approx(model[0].weight.norm().item()))
    assert {"weights_norm/0/bias", "g/grads_norm/0/weight", "g/grads_norm/2/bias"} <= set(scalars)
    assert "weights_norm/2/weight" not in scalars
    assert scalars["opt/lr/group_0"] == [(2, pytest.approx(0.05))]
    accumulator = event_accumulator.EventAccumulator(str(tmp_path))
    accumulator.Reload()
    histograms = set(accumulator.Tags()["histograms"])
    assert histograms == {
        "m/weights/0/weight",
        "m/weights/0/bias",
        "m/weights/2/weight",
        "m/weights/2/bias",
        "grads/2/bias",
    }


@pytest.mark.parametrize(
    ("handler", "name"),
    [
        (lambda model, opt: OutputHandler("t", metric_names="all"), "'OutputHandler'"),
        (lambda model, opt: OptimizerParamsHandler(opt), "OptimizerParamsHandler"),
        (lambda model, opt: WeightsScalarHandler(model), "'WeightsScalarHandler'"),
        (lambda model, opt: GradsScalarHandler(model), "'GradsScalarHandler'"),
        (lambda model, opt: WeightsHistHandler(model), "'WeightsHistHandler'"),
        (lambda model, opt: GradsHistHandler(model), "'GradsHistHandler'"),
    ],
)
def test_handlers_refuse_other_loggers(handler: Any, name: str, tmp_path: Path) -> None:
    trainer, model, optimizer, data = make_training(batches=1)
    with CSVLogger(tmp_path / "log.csv") as logger:
        logger.attach(trainer, handler(model, optimizer), Events.COMPLETED)
        with pytest.raises(RuntimeError, match=f"Handler {name} works only with TensorboardLogger"):
            trainer.run(data)


def test_missing_tensorboard_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(
        ImportError, match=r"pip install tensorboard \(or, in a clone of cadence, pip install -e '\.\[tensorboard\]'\)"
    ):
        TensorboardLogger(tmp_path)
