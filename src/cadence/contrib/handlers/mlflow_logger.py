"""Ignite's old ``ignite.contrib.handlers.mlflow_logger`` path: re-exports
:mod:`cadence.handlers.mlflow_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.mlflow_logger import MLflowLogger
    >>> from cadence.handlers.mlflow_logger import MLflowLogger as Same
    >>> MLflowLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.mlflow_logger import (
    MLflowLogger,
    OptimizerParamsHandler,
    OutputHandler,
)

warn_moved(__name__, "cadence.handlers.mlflow_logger")


__all__ = ["MLflowLogger", "OptimizerParamsHandler", "OutputHandler"]
