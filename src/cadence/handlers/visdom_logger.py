"""Ignite's ``ignite.handlers.visdom_logger`` path: :mod:`cadence.loggers.visdom`.

Example:
    >>> from cadence.handlers.visdom_logger import VisdomLogger
    >>> from cadence.loggers.visdom import VisdomLogger as Same
    >>> VisdomLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.visdom import (
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    VisdomLogger,
    WeightsScalarHandler,
)

__all__ = [
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "VisdomLogger",
    "WeightsScalarHandler",
    "global_step_from_engine",
]
