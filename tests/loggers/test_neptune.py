"""NeptuneLogger against the real ``neptune`` client: offline mode (the operations it writes under tmp_path are
read back) and debug mode (values fetched from the run in memory)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers import Checkpoint
from cadence.handlers.neptune_logger import (
    GradsScalarHandler,
    NeptuneLogger,
    NeptuneSaver,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsScalarHandler,
)
from tests.loggers._training import make_training

pytest.importorskip("neptune", reason="the neptune client is not installed (pip install neptune)")
logging.getLogger("neptune").setLevel(logging.WARNING)


def _logged_floats(folder: Path) -> dict[str, list[tuple[int, float]]]:
    (log,) = folder.glob(".neptune/offline/run__*/data-1.log")
    series: dict[str, list[tuple[int, float]]] = {}
    for line in log.read_text().splitlines():
        operation = json.loads(line)["obj"]
        if operation["type"] == "LogFloats" and operation["path"][0] != "monitoring":  # not the client's own
            path = "/".join(operation["path"])
            series.setdefault(path, []).extend((int(v["step"]), v["value"]) for v in operation["values"])
    return series


def test_an_offline_run_writes_each_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the offline run goes to ./.neptune
    trainer, model, optimizer, data = make_training(batches=3)
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    with NeptuneLogger(mode="offline") as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=lambda loss: {"loss": loss}
        )
        logger.attach_opt_params_handler(trainer, Events.EPOCH_COMPLETED, optimizer)
        logger.attach(trainer, GradsScalarHandler(model, tag="model"), Events.EPOCH_COMPLETED)
        trainer.run(data, max_epochs=2)
        logger["parameters/batch_size"] = 8  # fields through the logger
    series = _logged_floats(tmp_path)
    assert [step for step, _ in series["training/loss"]] == list(range(1, 7))
    assert [value for _, value in series["training/loss"]] == pytest.approx(losses)
    assert series["lr/group_0"] == [(1, 0.05), (2, 0.05)]
    expected = [name.replace(".", "/") for name, _ in model.named_parameters()]
    assert sorted(key for key in series if key.startswith("model/")) == sorted(
        f"model/grads_norm/{name}" for name in expected
    )


@pytest.fixture()
def debug_logger() -> Any:
    logger = NeptuneLogger(mode="debug")
    yield logger
    logger.close()


def test_weights_of_frozen_layers_are_left_out(debug_logger: NeptuneLogger) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    torch.nn.init.ones_(model[1].weight)
    model[1].weight.grad = torch.zeros_like(model[1].weight)  # only this one has a gradient
    engine: Engine[None] = Engine(lambda e, b: None)
    engine.state.epoch = 3
    WeightsScalarHandler(model)(engine, debug_logger, Events.EPOCH_COMPLETED)
    assert debug_logger["weights_norm/1/weight"].fetch_values().value.tolist() == pytest.approx([2**0.5])
    assert not debug_logger.exists("weights_norm/0/weight")
    assert not debug_logger.exists("weights_norm/1/bias")


def test_the_saver_uploads_and_removes_checkpoints(debug_logger: NeptuneLogger) -> None:
    model = torch.nn.Linear(2, 1)
    checkpoint = Checkpoint({"model": model}, NeptuneSaver(debug_logger), n_saved=1)
    engine: Engine[None] = Engine(lambda e, b: None)
    engine.state.iteration = 1
    checkpoint(engine)
    engine.state.iteration = 2
    checkpoint(engine)
    assert debug_logger.exists("model_2.pt")
    assert not debug_logger.exists("model_1.pt")


@pytest.mark.parametrize(
    "handler",
    [
        OutputHandler("tag", metric_names="all"),
        OptimizerParamsHandler(torch.optim.SGD([torch.zeros(1)], lr=0.1)),
        WeightsScalarHandler(torch.nn.Linear(1, 1)),
        GradsScalarHandler(torch.nn.Linear(1, 1)),
    ],
)
def test_handlers_write_to_a_neptune_logger_only(handler: Any) -> None:
    with pytest.raises(TypeError, match="works only with NeptuneLogger"):
        handler(Engine(lambda e, b: None), object(), Events.COMPLETED)
