"""MLflowLogger against the real ``mlflow`` client and a local tracking store under tmp_path, read back with
``MlflowClient``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers.mlflow_logger import MLflowLogger, OptimizerParamsHandler, OutputHandler
from cadence.handlers.utils import global_step_from_engine
from tests.loggers._training import make_training

mlflow = pytest.importorskip("mlflow", reason="the mlflow client is not installed (pip install mlflow)")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it to keep runs in a folder
    return str(tmp_path / "mlruns")


def _history(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in MlflowClient(tracking_uri=uri).get_metric_history(run_id, key)]


def test_training_metrics_are_stored_at_their_steps(store: str) -> None:
    trainer, _, optimizer, data = make_training()
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    evaluator: Engine[None] = Engine(lambda e, b: None)
    evaluator.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(acc=0.5, per_class=[0.25, 0.75]))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    with MLflowLogger(tracking_uri=store) as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=lambda loss: {"loss": loss}
        )
        logger.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer)
        logger.attach_output_handler(
            evaluator, Events.COMPLETED, tag="validation", metric_names="all",
            global_step_transform=global_step_from_engine(trainer),
        )  # fmt: skip
        trainer.run(data, max_epochs=2)
        run_id = logger.active_run.info.run_id
        logger.log_param("seed", 0)  # the client's functions through the logger
    assert mlflow.active_run() is None
    stored = _history(store, run_id, "training loss")
    assert [step for step, _ in stored] == list(range(1, 13))
    assert [value for _, value in stored] == pytest.approx(losses)
    assert _history(store, run_id, "lr group_0") == [(step, 0.05) for step in range(1, 13)]
    assert _history(store, run_id, "validation acc") == [(1, 0.5), (2, 0.5)]
    assert _history(store, run_id, "validation per_class 1") == [(1, 0.75), (2, 0.75)]
    assert MlflowClient(tracking_uri=store).get_run(run_id).data.params == {"seed": "0"}


def test_a_name_mlflow_refuses_is_skipped_with_a_warning(store: str) -> None:
    engine: Engine[None] = Engine(lambda e, b: None)
    engine.state.metrics = {"ok": 1.0, "50% quantile": 2.0}
    with MLflowLogger(store) as logger:
        with pytest.warns(UserWarning, match="invalid metric name 'tag 50% quantile'"):
            OutputHandler("tag", metric_names="all")(engine, logger, Events.COMPLETED)
        run_id = logger.active_run.info.run_id
    assert list(MlflowClient(tracking_uri=store).get_run(run_id).data.metrics) == ["tag ok"]


@pytest.mark.slow
def test_a_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trainer, _, optimizer, data = make_training(batches=3)
    with MLflowLogger(uri) as logger:
        logger.attach(trainer, OptimizerParamsHandler(optimizer, tag="generator"), Events.EPOCH_COMPLETED)
        trainer.run(data, max_epochs=2)
        run_id = logger.active_run.info.run_id
    assert _history(uri, run_id, "generator lr group_0") == [(1, 0.05), (2, 0.05)]


@pytest.mark.parametrize(
    "handler",
    [OutputHandler("tag", output_transform=lambda x: x), OptimizerParamsHandler(torch.optim.SGD([torch.zeros(1)]))],
)
def test_handlers_write_to_an_mlflow_logger_only(handler: Any) -> None:
    with pytest.raises(TypeError, match="works only with MLflowLogger"):
        handler(Engine(lambda e, b: None), object(), Events.COMPLETED)
