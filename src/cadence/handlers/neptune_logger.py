"""Ignite's ``ignite.handlers.neptune_logger`` path: :mod:`cadence.loggers.neptune`.

Example:
    >>> from cadence.handlers.neptune_logger import NeptuneLogger
    >>> from cadence.loggers.neptune import NeptuneLogger as Same
    >>> NeptuneLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.neptune import (
    GradsScalarHandler,
    NeptuneLogger,
    NeptuneSaver,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsScalarHandler,
)

__all__ = [
    "GradsScalarHandler",
    "NeptuneLogger",
    "NeptuneSaver",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]
