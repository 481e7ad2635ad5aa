"""Ignite's ``ignite.handlers.checkpoint`` path: :class:`~cadence.handlers.checkpointer.Checkpoint`, its save
handlers and :class:`~cadence.handlers.model_checkpoint.ModelCheckpoint`, with cadence's helpers to find and load
checkpoints.

Example:
    >>> from cadence.handlers.checkpoint import Checkpoint, ModelCheckpoint
    >>> issubclass(ModelCheckpoint, Checkpoint)
    True
"""

from cadence.engine import Engine as Engine  # Ignite's module has these too
from cadence.engine import EventEnum as EventEnum
from cadence.engine import Events as Events
from cadence.exceptions import CheckpointMismatchError, CorruptCheckpointError
from cadence.handlers._discovery import checkpoints_by_recency, find_latest_checkpoint
from cadence.handlers._naming import FilenamePatternError
from cadence.handlers.checkpointer import HAVE_ZERO, Checkpoint, CheckpointEvents
from cadence.handlers.model_checkpoint import ModelCheckpoint
from cadence.handlers.savers import BaseSaveHandler, DiskSaver
from cadence.loggers.base import global_step_from_engine

__all__ = [
    "HAVE_ZERO",
    "BaseSaveHandler",
    "Checkpoint",
    "CheckpointEvents",
    "CheckpointMismatchError",
    "CorruptCheckpointError",
    "DiskSaver",
    "FilenamePatternError",
    "ModelCheckpoint",
    "checkpoints_by_recency",
    "find_latest_checkpoint",
    "global_step_from_engine",
]
