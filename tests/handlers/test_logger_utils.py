"""The one-call logging setups: TensorBoard end to end, argument errors, and the services not yet available."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers.logger_utils import setup_tb_logging, setup_trains_logging

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _engines() -> tuple[Engine[Any], Engine[Any], torch.optim.Optimizer]:
    trainer: Engine[Any] = Engine(lambda e, b: None)
    evaluator: Engine[Any] = Engine(lambda e, b: None)
    scores = iter([0.25, 0.5, 0.75])

    @trainer.on(Events.ITERATION_COMPLETED)
    def train_metrics(engine: Engine[Any]) -> None:
        engine.state.metrics["loss"] = 1.0 / engine.state.iteration

    @evaluator.on(Events.COMPLETED)
    def eval_metrics(engine: Engine[Any]) -> None:
        engine.state.metrics.update(acc=next(scores), cm=torch.zeros(2, 2))

    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
    return trainer, evaluator, optimizer


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = event_accumulator.EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def test_tb_logging_of_trainer_optimizers_and_evaluators(tmp_path: Path) -> None:
    trainer, evaluator, optimizer = _engines()
    logger = setup_tb_logging(
        tmp_path, trainer, {"gen": optimizer}, {"val": evaluator}, log_every_iters=2, evaluator_metric_names=["acc"]
    )
    trainer.run([0] * 4, max_epochs=3)
    logger.close()
    scalars = _scalars(tmp_path)
    assert [step for step, _ in scalars["training/loss"]] == [2, 4, 6, 8, 10, 12]
    assert [step for step, _ in scalars["gen/lr/group_0"]] == [2, 4, 6, 8, 10, 12]
    assert scalars["val/acc"] == [(1, 0.25), (2, 0.5), (3, 0.75)]
    assert not any(tag.startswith("val/cm") for tag in scalars)


def test_tb_logging_of_a_single_optimizer_and_evaluator(tmp_path: Path) -> None:
    trainer, evaluator, optimizer = _engines()
    with (
        setup_tb_logging(tmp_path, trainer, optimizer, evaluator, log_every_iters=None) as logger,  # type: ignore[arg-type]
        pytest.warns(UserWarning, match="cannot log 'cm'"),  # all metrics: the confusion matrix is no scalar
    ):
        trainer.run([0, 0], max_epochs=1)
        assert logger.writer is not None
    scalars = _scalars(tmp_path)
    assert {"training/loss", "lr/group_0", "validation/acc"} <= set(scalars)
    assert len(scalars["training/loss"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizers": "sgd"}, "Argument optimizers should be either a single optimizer or"),
        ({"evaluators": "eval"}, "Argument evaluators should be either a single engine or"),
    ],
)
def test_wrong_optimizers_or_evaluators(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    trainer, _, _ = _engines()
    with pytest.raises(TypeError, match=match):
        setup_tb_logging(tmp_path, trainer, **kwargs)


def test_trains_logging_is_the_old_name_of_clearml_logging() -> None:
    with (
        pytest.warns(UserWarning, match="renamed to setup_clearml_logging"),
        pytest.raises(TypeError),  # setup_clearml_logging's own check of its arguments answers
    ):
        setup_trains_logging(Engine(lambda e, b: None), optimizers=42)
