"""Ignite's old ``ignite.contrib.handlers.tensorboard_logger`` path: re-exports
:mod:`cadence.handlers.tensorboard_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.tensorboard_logger import TensorboardLogger
    >>> from cadence.handlers.tensorboard_logger import TensorboardLogger as Same
    >>> TensorboardLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.tensorboard_logger import (
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    TensorboardLogger,
    WeightsHistHandler,
    WeightsScalarHandler,
)

warn_moved(__name__, "cadence.handlers.tensorboard_logger")


__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
]
