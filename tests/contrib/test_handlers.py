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
