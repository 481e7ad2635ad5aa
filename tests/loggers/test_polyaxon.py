"""PolyaxonLogger against the real ``polyaxon`` client in its offline mode: the run's metric event files under
tmp_path are read back. (No Polyaxon server is reached; the online path is the client's own.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cadence import Engine, Events
from cadence.handlers.polyaxon_logger import OptimizerParamsHandler, OutputHandler, PolyaxonLogger
from tests.loggers._training import make_training

pytest.importorskip("polyaxon.tracking", reason="the polyaxon client is not installed (pip install polyaxon)")

OFFLINE = {
    "is_offline": True, "is_new": True, "track_code": False, "track_env": False, "track_logs": False,
    "collect_resources": False,
}  # fmt: skip


def _series(folder: Path, name: str) -> list[tuple[int, float]]:
    lines = (folder / "events" / "metric" / f"{name}.plx").read_text().splitlines()[1:]  # step|timestamp|metric
    return [(int(step), float(value)) for step, _, value in (line.split("|") for line in lines)]


def test_an_offline_run_stores_each_step(tmp_path: Path) -> None:
    trainer, _, optimizer, data = make_training(batches=3)
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    stdout = sys.stdout
    with PolyaxonLogger(project="cadence-test", artifacts_path=str(tmp_path), **OFFLINE) as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=lambda loss: {"loss": loss}
        )
        logger.attach_opt_params_handler(trainer, Events.EPOCH_COMPLETED, optimizer)
        trainer.run(data, max_epochs=2)
        logger.log_inputs(batch_size=8)  # the run's methods through the logger
    assert sys.stdout is stdout  # Polyaxon's end() resets it; the logger puts it back
    stored = _series(tmp_path, "training__loss")
    assert [step for step, _ in stored] == list(range(1, 7))
    assert [value for _, value in stored] == pytest.approx(losses)
    assert _series(tmp_path, "lr__group_0") == [(1, 0.05), (2, 0.05)]


def test_handlers_write_to_a_polyaxon_logger_only() -> None:
    import torch

    with pytest.raises(RuntimeError, match="works only with PolyaxonLogger"):
        OutputHandler("tag", metric_names="all")(Engine(lambda e, b: None), object(), Events.COMPLETED)
    with pytest.raises(RuntimeError, match="works only with PolyaxonLogger"):
        OptimizerParamsHandler(torch.optim.SGD([torch.zeros(1)], lr=0.1))(Engine(lambda e, b: None), 1, "started")
