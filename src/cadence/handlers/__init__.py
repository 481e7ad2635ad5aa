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
from cadence.handlers.lr_scheduler import (
    LRScheduler,
    PlateauMode,
    ReduceLROnPlateauScheduler,
    ThresholdMode,
    create_lr_scheduler_with_warmup,
)
from cadence.handlers.param_scheduler import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    CyclicalScheduler,
    LinearCyclicalScheduler,
    ParamScheduler,
    PiecewiseLinear,
)
from cadence.handlers.progress_bar import ProgressBar
from cadence.handlers.savers import BaseSaveHandler, DiskSaver
from cadence.handlers.terminate_on_nan import TerminateOnNan
from cadence.handlers.timing import HandlersTimeProfiler, TimeLimit, Timer

__all__ = [
    "BaseSaveHandler",
    "Checkpoint",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "DiskSaver",
    "EarlyStopping",
    "HandlersTimeProfiler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "ModelCheckpoint",
    "ParamScheduler",
    "PiecewiseLinear",
    "PlateauMode",
    "ProgressBar",
    "ReduceLROnPlateauScheduler",
    "ScoreMode",
    "TerminateOnNan",
    "ThresholdMode",
    "TimeLimit",
    "Timer",
    "create_lr_scheduler_with_warmup",
    "find_latest_checkpoint",
    "global_step_from_engine",
]
