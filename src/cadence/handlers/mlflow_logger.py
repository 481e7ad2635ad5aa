"""Ignite's ``ignite.handlers.mlflow_logger`` path: :mod:`cadence.loggers.mlflow`.

Example:
    >>> from cadence.handlers.mlflow_logger import MLflowLogger
    >>> from cadence.loggers.mlflow import MLflowLogger as Same
    >>> MLflowLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.mlflow import MLflowLogger, OptimizerParamsHandler, OutputHandler

__all__ = ["MLflowLogger", "OptimizerParamsHandler", "OutputHandler", "global_step_from_engine"]
