"""Ignite's ``ignite.contrib.handlers`` path: handlers and loggers that now live in :mod:`cadence.handlers`.

Example:
    >>> from cadence.contrib.handlers import TensorboardLogger
    >>> from cadence.loggers import TensorboardLogger as Same
    >>> TensorboardLogger is Same
    True
"""

from cadence.handlers.clearml_logger import ClearMLLogger
from cadence.handlers.lr_finder import FastaiLRFinder
from cadence.handlers.mlflow_logger import MLflowLogger
from cadence.handlers.neptune_logger import NeptuneLogger
from cadence.handlers.param_scheduler import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamGroupScheduler,
    PiecewiseLinear,
    create_lr_scheduler_with_warmup,
)
from cadence.handlers.polyaxon_logger import PolyaxonLogger
from cadence.handlers.progress_bar import ProgressBar
from cadence.handlers.tensorboard_logger import TensorboardLogger
from cadence.handlers.timing import HandlersTimeProfiler
from cadence.handlers.utils import global_step_from_engine
from cadence.handlers.visdom_logger import VisdomLogger
from cadence.handlers.wandb_logger import WandBLogger

__all__ = [
    "ClearMLLogger",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "FastaiLRFinder",
    "HandlersTimeProfiler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "MLflowLogger",
    "NeptuneLogger",
    "ParamGroupScheduler",
    "PiecewiseLinear",
    "PolyaxonLogger",
    "ProgressBar",
    "TensorboardLogger",
    "VisdomLogger",
    "WandBLogger",
    "create_lr_scheduler_with_warmup",
    "global_step_from_engine",
]
