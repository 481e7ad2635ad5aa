"""Ignite's ``ignite.handlers.clearml_logger`` path: :mod:`cadence.loggers.clearml`.

Example:
    >>> from cadence.handlers.clearml_logger import ClearMLLogger
    >>> from cadence.loggers.clearml import ClearMLLogger as Same
    >>> ClearMLLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.clearml import (
    ClearMLLogger,
    ClearMLSaver,
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsHistHandler,
    WeightsScalarHandler,
)

__all__ = [
    "ClearMLLogger",
    "ClearMLSaver",
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]
