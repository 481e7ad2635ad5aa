"""Ignite's old ``ignite.contrib.handlers.neptune_logger`` path: re-exports
:mod:`cadence.handlers.neptune_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.neptune_logger import NeptuneLogger
    >>> from cadence.handlers.neptune_logger import NeptuneLogger as Same
    >>> NeptuneLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.neptune_logger import (
    GradsScalarHandler,
    NeptuneLogger,
    NeptuneSaver,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsScalarHandler,
)

warn_moved(__name__, "cadence.handlers.neptune_logger")


__all__ = [
    "GradsScalarHandler",
    "NeptuneLogger",
    "NeptuneSaver",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsScalarHandler",
]
