"""Handlers that attach to an :class:`~cadence.Engine`: checkpoints, early stopping, timers, NaN checks,
progress bars and parameter schedulers.

Example:
    >>> import tempfile, torch
    >>> from cadence import Engine, Events
    >>> from cadence.handlers import Checkpoint
    >>> trainer = Engine(lambda engine, batch: None)
    >>> checkpoint = Checkpoint({"model": torch.nn.Linear(2, 1)}, tempfile.mkdtemp())
    >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    >>> _ = trainer.run([0, 0], max_epochs=2)
    >>> checkpoint.last_checkpoint.name
    'model_4.pt'
"""

# Ignite's modules of this package are attributes of it once it is imported, as in Ignite.
from cadence.handlers import checkpoint as checkpoint
from cadence.handlers import clearml_logger as clearml_logger
from cadence.handlers import mlflow_logger as mlflow_logger
from cadence.handlers import neptune_logger as neptune_logger
from cadence.handlers import param_scheduler as param_scheduler
from cadence.handlers import polyaxon_logger as polyaxon_logger
from cadence.handlers import tensorboard_logger as tensorboard_logger
from cadence.handlers import utils as utils
from cadence.handlers import visdom_logger as visdom_logger
from cadence.handlers import wandb_logger as wandb_logger
from cadence.handlers._discovery import find_latest_checkpoint
from cadence.handlers.batch_size_scheduler import BatchSizeScheduler
from cadence.handlers.checkpointer import Checkpoint
from cadence.handlers.combined_scheduler import ConcatScheduler, ParamGroupScheduler
from cadence.handlers.cyclical_scheduler import CosineAnnealingScheduler, CyclicalScheduler, LinearCyclicalScheduler
from cadence.handlers.early_stopping import EarlyStopping, ScoreMode
from cadence.handlers.ema_handler import EMABufferMode, EMAHandler
from cadence.handlers.fbresearch_logger import FBResearchLogger
from cadence.handlers.lr_finder import FastaiLRFinder
from cadence.handlers.lr_scheduler import LRScheduler, create_lr_scheduler_with_warmup
from cadence.handlers.model_checkpoint import ModelCheckpoint
from cadence.handlers.piecewise_linear import PiecewiseLinear
from cadence.handlers.preemption import Preempted, Preemption
from cadence.handlers.progress_bar import ProgressBar
from cadence.handlers.reduce_lr_on_plateau import PlateauMode, ReduceLROnPlateauScheduler, ThresholdMode
from cadence.handlers.remote import FsspecSaver, ShardedFsspecSaver
from cadence.handlers.savers import BaseSaveHandler, DiskSaver
from cadence.handlers.scheduler_base import BaseParamScheduler, ParamScheduler
from cadence.handlers.sharded import ShardedDiskSaver
from cadence.handlers.spikes import LossSpikeError, MeanStdSpike, MedianSpike, SnapshotPlace, SpikeRollback
from cadence.handlers.state_param_scheduler import (
    ExpStateScheduler,
    LambdaStateScheduler,
    MultiStepStateScheduler,
    PiecewiseLinearStateScheduler,
    StateParamScheduler,
    StepStateScheduler,
)
from cadence.handlers.storage import CheckpointStore
from cadence.handlers.stores import EpochOutputStore
from cadence.handlers.terminate_on_nan import TerminateOnNan
from cadence.handlers.time_profilers import BasicTimeProfiler, HandlersTimeProfiler
from cadence.handlers.timing import TimeLimit, Timer
from cadence.loggers.base import global_step_from_engine
from cadence.loggers.clearml import ClearMLLogger
from cadence.loggers.mlflow import MLflowLogger
from cadence.loggers.neptune import NeptuneLogger
from cadence.loggers.polyaxon import PolyaxonLogger
from cadence.loggers.tensorboard import TensorboardLogger
from cadence.loggers.visdom import VisdomLogger
from cadence.loggers.wandb import WandBLogger

__all__ = [
    "BaseParamScheduler",
    "BaseSaveHandler",
    "BasicTimeProfiler",
    "BatchSizeScheduler",
    "Checkpoint",
    "ClearMLLogger",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "CheckpointStore",
    "DiskSaver",
    "FsspecSaver",
    "EMABufferMode",
    "EMAHandler",
    "EarlyStopping",
    "EpochOutputStore",
    "ExpStateScheduler",
    "FBResearchLogger",
    "FastaiLRFinder",
    "HandlersTimeProfiler",
    "LRScheduler",
    "LambdaStateScheduler",
    "LinearCyclicalScheduler",
    "LossSpikeError",
    "MLflowLogger",
    "MeanStdSpike",
    "MedianSpike",
    "ModelCheckpoint",
    "MultiStepStateScheduler",
    "NeptuneLogger",
    "ParamGroupScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
    "PiecewiseLinearStateScheduler",
    "PlateauMode",
    "PolyaxonLogger",
    "Preempted",
    "Preemption",
    "ProgressBar",
    "ReduceLROnPlateauScheduler",
    "ShardedDiskSaver",
    "SnapshotPlace",
    "SpikeRollback",
    "ShardedFsspecSaver",
    "ScoreMode",
    "StateParamScheduler",
    "StepStateScheduler",
    "TensorboardLogger",
    "TerminateOnNan",
    "ThresholdMode",
    "TimeLimit",
    "Timer",
    "VisdomLogger",
    "WandBLogger",
    "create_lr_scheduler_with_warmup",
    "find_latest_checkpoint",
    "global_step_from_engine",
]
