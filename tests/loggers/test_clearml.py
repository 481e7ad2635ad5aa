"""ClearMLLogger against the real ``clearml`` client in offline (bypass) mode: the session folder it writes under
tmp_path is read back. ClearMLSaver's model registration needs a ClearML server (the offline client cannot
register models), so the saver is checked for its files and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers import Checkpoint
from cadence.handlers.clearml_logger import (
    ClearMLLogger,
    ClearMLSaver,
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsHistHandler,
    WeightsScalarHandler,
)
from cadence.loggers.clearml import FRAMEWORK_HOOKS
from tests.loggers._training import make_training

clearml = pytest.importorskip("clearml", reason="the clearml client is not installed (pip install clearml)")

QUIET = {
    "auto_connect_frameworks": dict.fromkeys(FRAMEWORK_HOOKS, False),
    "auto_resource_monitoring": False,
    "auto_connect_streams": False,
}


@pytest.fixture()
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CLEARML_CACHE_DIR", str(tmp_path))
    with pytest.warns(UserWarning, match="running in bypass mode"):
        ClearMLLogger.set_bypass_mode(True)
        yield tmp_path
    monkeypatch.setattr(ClearMLLogger, "_bypass", None)


def _events(session: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (session / "metrics.jsonl").read_text().splitlines()]


def _scalars(events: list[dict[str, Any]]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    found: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for batch in events:
        for event in batch if isinstance(batch, list) else [batch]:
            if event.get("type") == "training_stats_scalar":
                found.setdefault((event["metric"], event["variant"]), []).append((event["iter"], event["value"]))
    return found


@pytest.mark.slow
def test_an_offline_session_holds_the_scalars_and_histograms(offline: Path) -> None:
    trainer, model, optimizer, data = make_training(batches=3)
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    logger = ClearMLLogger(project_name="cadence-test", task_name="offline", **QUIET)
    logger.attach_output_handler(
        trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=lambda loss: {"loss": loss}
    )
    logger.attach_opt_params_handler(trainer, Events.EPOCH_COMPLETED, optimizer)
    logger.attach(trainer, WeightsScalarHandler(model, whitelist=["0"]), Events.EPOCH_COMPLETED)
    logger.attach(trainer, GradsScalarHandler(model, tag="model"), Events.EPOCH_COMPLETED)
    logger.attach(trainer, WeightsHistHandler(model), Events.EPOCH_COMPLETED)
    logger.attach(trainer, GradsHistHandler(model), Events.EPOCH_COMPLETED)
    trainer.run(data, max_epochs=2)
    task = logger.get_task()
    assert task is clearml.Task.current_task()
    session = Path(task.get_offline_mode_folder())
    logger.report_text("done")  # the ClearML logger's methods through this one
    saver = ClearMLSaver(logger, dirname=offline / "checkpoints")
    checkpoint = Checkpoint({"model": model}, saver, n_saved=1)
    for iteration in (1, 2):
        trainer.state.iteration = iteration
        checkpoint(trainer)
    assert sorted(path.name for path in (offline / "checkpoints").iterdir()) == ["model_2.pt"]
    assert saver.get_local_copy("model_2.pt") == str(offline / "checkpoints" / "model_2.pt")
    logger.close()
    scalars = _scalars(_events(session))
    assert [step for step, _ in scalars[("training", "loss")]] == list(range(1, 7))
    assert [value for _, value in scalars[("training", "loss")]] == pytest.approx(losses)
    assert scalars[("lr", "0")] == [(1, 0.05), (2, 0.05)]
    assert [value for _, value in scalars[("weights_norm/0", "weight")]] == pytest.approx(
        [float(model[0].weight.norm())] * 2, rel=0.5
    )  # the weights moved between the two epochs
    assert ("model/grads_norm/2", "bias") in scalars
    histograms = {
        (event["metric"], event["variant"])
        for batch in _events(session)
        for event in (batch if isinstance(batch, list) else [batch])
        if event.get("type") == "plot"  # a histogram is a 3-D plot of the values over the steps
    }
    assert ("weights_0", "weight") in histograms
    assert ("grads_2", "bias") in histograms


def test_bypass_mode_follows_ci_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ClearMLLogger, "_bypass", None)
    monkeypatch.setenv("CI", "1")
    assert ClearMLLogger.bypass_mode()
    monkeypatch.delenv("CI")
    assert not ClearMLLogger.bypass_mode()
    monkeypatch.setattr(ClearMLLogger, "_bypass", True)
    assert ClearMLLogger.bypass_mode()


def test_the_saver_needs_a_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clearml.Task, "current_task", staticmethod(lambda: None))
    with pytest.raises(RuntimeError, match="requires a ClearML Task"):
        ClearMLSaver()
    with pytest.raises(TypeError, match="logger must be an instance of ClearMLLogger"):
        ClearMLSaver(logger=object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("handler", "label"),
    [
        (OutputHandler("tag", metric_names="all"), "OutputHandler"),
        (OptimizerParamsHandler(torch.optim.SGD([torch.zeros(1)], lr=0.1)), "OptimizerParamsHandler"),
        (WeightsScalarHandler(torch.nn.Linear(1, 1)), "WeightsScalarHandler"),
        (GradsScalarHandler(torch.nn.Linear(1, 1)), "GradsScalarHandler"),
        (WeightsHistHandler(torch.nn.Linear(1, 1)), "'WeightsHistHandler'"),
        (GradsHistHandler(torch.nn.Linear(1, 1)), "'GradsHistHandler'"),
    ],
)
def test_handlers_write_to_a_clearml_logger_only(handler: Any, label: str) -> None:
    with pytest.raises(RuntimeError, match=f"Handler {label} works only with ClearMLLogger"):
        handler(Engine(lambda e, b: None), object(), Events.COMPLETED)
