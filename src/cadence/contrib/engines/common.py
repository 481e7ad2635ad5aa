"""Ignite's ``ignite.contrib.engines.common`` path: the one-call setups of :mod:`cadence.handlers.common`
and the logging setups of :mod:`cadence.handlers.logger_utils`.

Example:
    >>> from cadence.contrib.engines.common import setup_tb_logging
    >>> from cadence.handlers.logger_utils import setup_tb_logging as same
    >>> setup_tb_logging is same
    True
"""

from cadence.engine import Engine, Events
from cadence.handlers import (
    Checkpoint,
    DiskSaver,
    EarlyStopping,
    ParamScheduler,
    ProgressBar,
    TerminateOnNan,
    global_step_from_engine,
)
from cadence.handlers.common import (
    add_early_stopping_by_val_score,
    empty_cuda_cache,
    gen_save_best_models_by_val_score,
    get_default_score_fn,
    save_best_model_by_val_score,
    setup_any_logging,
    setup_common_distrib_training_handlers,
    setup_common_training_handlers,
)
from cadence.handlers.logger_utils import (
    setup_clearml_logging,
    setup_mlflow_logging,
    setup_neptune_logging,
    setup_plx_logging,
    setup_tb_logging,
    setup_trains_logging,
    setup_visdom_logging,
    setup_wandb_logging,
)
from cadence.handlers.savers import BaseSaveHandler
from cadence.loggers.logger import BaseLogger
from cadence.metrics import GpuInfo, RunningAverage, RunningBatchWise
from cadence.utils import deprecated

__all__ = [
    "BaseLogger",
    "BaseSaveHandler",
    "Checkpoint",
    "DiskSaver",
    "EarlyStopping",
    "Engine",
    "Events",
    "GpuInfo",
    "ParamScheduler",
    "ProgressBar",
    "RunningAverage",
    "RunningBatchWise",
    "TerminateOnNan",
    "add_early_stopping_by_val_score",
    "deprecated",
    "empty_cuda_cache",
    "gen_save_best_models_by_val_score",
    "get_default_score_fn",
    "global_step_from_engine",
    "save_best_model_by_val_score",
    "setup_any_logging",
    "setup_clearml_logging",
    "setup_common_distrib_training_handlers",
    "setup_common_training_handlers",
    "setup_mlflow_logging",
    "setup_neptune_logging",
    "setup_plx_logging",
    "setup_tb_logging",
    "setup_trains_logging",
    "setup_visdom_logging",
    "setup_wandb_logging",
]
