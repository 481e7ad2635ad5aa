"""Ignite's old ``ignite.contrib.handlers.clearml_logger`` path: re-exports
:mod:`cadence.handlers.clearml_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.clearml_logger import ClearMLLogger
    >>> from cadence.handlers.clearml_logger import ClearMLLogger as Same
    >>> ClearMLLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.clearml_logger import (
    ClearMLLogger,
    ClearMLSaver,
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsHistHandler,
    WeightsScalarHandler,
)

warn_moved(__name__, "cadence.handlers.clearml_logger")


__all__ = [
    "ClearMLLogger",
    "ClearMLSaver",
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsHistHandler",
    "WeightsScalarHandler",
]
