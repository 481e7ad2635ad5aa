"""An Ignite quick-start script runs unchanged on cadence once its imports are switched, with the same log."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

IMPORTS = {
    "ignite": {
        "engine": "ignite.engine",
        "metrics": "ignite.metrics",
        "handlers": "ignite.handlers",
        "bar": "ignite.handlers",
    },
    "cadence": {
        "engine": "cadence",
        "metrics": "cadence.metrics",
        "handlers": "cadence.handlers",
        "bar": "cadence.handlers",
    },
}


def quick_start(library: str, folder: Path) -> list[str]:
    """Ignite's quick start (model, trainer, evaluator, logging, checkpoints, early stopping)."""
    modules = {key: importlib.import_module(name) for key, name in IMPORTS[library].items()}
    engine, metrics, handlers = modules["engine"], modules["metrics"], modules["handlers"]
    torch.manual_seed(0)
    x, y = torch.randn(96, 5), torch.randint(0, 3, (96,))
    train_loader = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    val_loader = [(x[i : i + 16], y[i : i + 16]) for i in range(64, 96, 16)]
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    log: list[str] = []

    trainer = engine.create_supervised_trainer(model, optimizer, criterion)
    val_metrics = {"accuracy": metrics.Accuracy(), "loss": metrics.Loss(criterion)}
    evaluator = engine.create_supervised_evaluator(model, metrics=val_metrics)

    @trainer.on(engine.Events.ITERATION_COMPLETED(every=3))
    def log_training_loss(trainer: Any) -> None:
        log.append(
            f"Epoch[{trainer.state.epoch}] Iteration[{trainer.state.iteration}] Loss: {trainer.state.output:.4f}"
        )

    @trainer.on(engine.Events.EPOCH_COMPLETED)
    def log_validation_results(trainer: Any) -> None:
        evaluator.run(val_loader)
        m = evaluator.state.metrics
        log.append(
            f"Validation Epoch: {trainer.state.epoch} Avg accuracy: {m['accuracy']:.4f} Avg loss: {m['loss']:.4f}"
        )

    def score_function(engine: Any) -> float:
        return float(engine.state.metrics["accuracy"])

    checkpointer = handlers.ModelCheckpoint(
        folder,
        "best",
        n_saved=2,
        score_function=score_function,
        score_name="accuracy",
        global_step_transform=handlers.global_step_from_engine(trainer),
        require_empty=False,
    )
    evaluator.add_event_handler(engine.Events.COMPLETED, checkpointer, {"model": model})
    evaluator.add_event_handler(engine.Events.COMPLETED, handlers.EarlyStopping(3, score_function, trainer))
    trainer.run(train_loader, max_epochs=8)
    log.append(f"stopped at epoch {trainer.state.epoch}, iteration {trainer.state.iteration}")
    log.append(" ".join(sorted(p.name for p in folder.iterdir())))
    return log


def test_ignite_quick_start_runs_unchanged_on_cadence(tmp_path: Path) -> None:
    pytest.importorskip("ignite")
    logging.disable(logging.CRITICAL)
    try:
        expected = quick_start("ignite", tmp_path / "ignite")
    finally:
        logging.disable(logging.NOTSET)
    got = quick_start("cadence", tmp_path / "cadence")
    assert got == expected
    assert got[-2] == "stopped at epoch 4, iteration 16"  # early stopping fired, the same epoch as in Ignite
