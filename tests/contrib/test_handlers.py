"""Ignite's old ``contrib.handlers`` paths: the same objects as the new paths, with a deprecation warning."""

from __future__ import annotations

import importlib
import sys

import pytest

import cadence.contrib.handlers as contrib_handlers
from cadence import handlers
from cadence.loggers import TensorboardLogger

MODULES = [
    "base_logger",
    "clearml_logger",
    "lr_finder",
    "mlflow_logger",
    "neptune_logger",
    "param_scheduler",
    "polyaxon_logger",
    "tensorboard_logger",
    "time_profilers",
    "tqdm_logger",
    "visdom_logger",
    "wandb_logger",
]


@pytest.mark.parametrize("module", MODULES)
def test_old_paths_warn_and_give_the_same_objects(module: str) -> None:
    name = f"cadence.contrib.handlers.{module}"
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=rf"{name} has moved to .* will be removed in version 0\.6\.0"):
        old = importlib.import_module(name)
    try:
        new: object = importlib.import_module(f"cadence.handlers.{module}")
    except ModuleNotFoundError:  # the new path of a name that cadence.handlers itself exports
        new = handlers
    for public in old.__all__:
        assert getattr(old, public) is getattr(new, public)


def test_package_names() -> None:
    assert contrib_handlers.TensorboardLogger is TensorboardLogger
    assert contrib_handlers.ProgressBar is handlers.ProgressBar
    assert contrib_handlers.PiecewiseLinear is handlers.PiecewiseLinear


def test_package_names_of_ignite_contrib() -> None:
    from cadence.handlers import tensorboard_logger

    assert contrib_handlers.EpochOutputStore is handlers.EpochOutputStore
    assert contrib_handlers.BasicTimeProfiler is handlers.BasicTimeProfiler
    assert contrib_handlers.HandlersTimeProfiler is handlers.HandlersTimeProfiler
    # As Ignite's: the package exposes the new modules (its own old module replaces one once imported).
    if "cadence.contrib.handlers.tensorboard_logger" not in sys.modules:
        assert contrib_handlers.tensorboard_logger is tensorboard_logger
    assert contrib_handlers.tensorboard_logger.TensorboardLogger is TensorboardLogger
