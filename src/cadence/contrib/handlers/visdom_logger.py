"""Ignite's old ``ignite.contrib.handlers.visdom_logger`` path: re-exports
:mod:`cadence.handlers.visdom_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.visdom_logger import VisdomLogger
    >>> from cadence.handlers.visdom_logger import VisdomLogger as Same
    >>> VisdomLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.visdom_logger import (
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    VisdomLogger,
    WeightsScalarHandler,
)

warn_moved(__name__, "cadence.handlers.visdom_logger")


__all__ = ["GradsScalarHandler", "OptimizerParamsHandler", "OutputHandler", "VisdomLogger", "WeightsScalarHandler"]
