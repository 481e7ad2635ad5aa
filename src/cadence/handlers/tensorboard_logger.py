"""Ignite's ``ignite.handlers.tensorboard_logger`` path: :mod:`cadence.loggers.tensorboard`.

Example:
    >>> from cadence.handlers.tensorboard_logger import TensorboardLogger
    >>> from cadence.loggers import TensorboardLogger as Same
    >>> TensorboardLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.tensorboard import (
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    TensorboardLogger,
    WeightsHistHandler,
    WeightsScalarHandler,
)

__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]
