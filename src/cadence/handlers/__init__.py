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
    'model_2.pt'
"""

from cadence.handlers.checkpoint import Checkpoint, ModelCheckpoint, find_latest_checkpoint, global_step_from_engine
from cadence.handlers.early_stopping import EarlyStopping, ScoreMode
from cadence.handlers.lr_finder import FastaiLRFinder
from cadence.handlers.param_scheduler import (
    BaseParamScheduler,
    BatchSizeScheduler,
    ConcatScheduler,
    CosineAnnealingScheduler,
    CyclicalScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamGroupScheduler,
    ParamScheduler,
    PiecewiseLinear,
    ReduceLROnPlateauScheduler,
    create_lr_scheduler_with_warmup,
)
from cadence.handlers.progress_bar import ProgressBar
from cadence.handlers.reduce_lr_on_plateau import PlateauMode, ThresholdMode
from cadence.handlers.savers import BaseSaveHandler, DiskSaver
from cadence.handlers.state_param_scheduler import (
    ExpStateScheduler,
    LambdaStateScheduler,
    MultiStepStateScheduler,
    PiecewiseLinearStateScheduler,
    StateParamScheduler,
    StepStateScheduler,
)
from cadence.handlers.terminate_on_nan import TerminateOnNan
from cadence.handlers.timing import HandlersTimeProfiler, TimeLimit, Timer

__all__ = [
    "BaseParamScheduler",
    "BaseSaveHandler",
    "BatchSizeScheduler",
    "Checkpoint",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "DiskSaver",
    "EarlyStopping",
    "ExpStateScheduler",
    "FastaiLRFinder",
    "HandlersTimeProfiler",
    "LRScheduler",
    "LambdaStateScheduler",
    "LinearCyclicalScheduler",
    "ModelCheckpoint",
    "MultiStepStateScheduler",
    "ParamGroupScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
    "PiecewiseLinearStateScheduler",
    "PlateauMode",
    "ProgressBar",
    "ReduceLROnPlateauScheduler",
    "ScoreMode",
    "StateParamScheduler",
    "StepStateScheduler",
    "TerminateOnNan",
    "ThresholdMode",
    "TimeLimit",
    "Timer",
    "create_lr_scheduler_with_warmup",
    "find_latest_checkpoint",
    "global_step_from_engine",
]
