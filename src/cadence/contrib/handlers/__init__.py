"""Ignite's ``ignite.contrib.handlers`` path: handlers and loggers that now live in :mod:`cadence.handlers`.

Example:
    >>> from cadence.contrib.handlers import TensorboardLogger
    >>> from cadence.loggers import TensorboardLogger as Same
    >>> TensorboardLogger is Same
    True
"""

# As in Ignite, the package's attributes of these names are cadence.handlers' modules until the old
# (deprecated) module of the same name under cadence.contrib.handlers is imported.
from cadence.handlers import clearml_logger as clearml_logger
from cadence.handlers import mlflow_logger as mlflow_logger
from cadence.handlers import neptune_logger as neptune_logger
from cadence.handlers import polyaxon_logger as polyaxon_logger
from cadence.handlers import tensorboard_logger as tensorboard_logger
from cadence.handlers import tqdm_logger as tqdm_logger
from cadence.handlers import visdom_logger as visdom_logger
from cadence.handlers import wandb_logger as wandb_logger
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
from cadence.handlers.stores import EpochOutputStore
from cadence.handlers.tensorboard_logger import TensorboardLogger
from cadence.handlers.time_profilers import BasicTimeProfiler, HandlersTimeProfiler
from cadence.handlers.utils import global_step_from_engine
from cadence.handlers.visdom_logger import VisdomLogger
from cadence.handlers.wandb_logger import WandBLogger

__all__ = [
    "BasicTimeProfiler",
    "ClearMLLogger",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "EpochOutputStore",
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
