"""Ignite's ``ignite.handlers.mlflow_logger`` path: MLflow logging is not yet available in cadence.

Every name imports; building a logger or handler raises ``NotImplementedError``. Log with
:class:`~cadence.loggers.TensorboardLogger`, :class:`~cadence.loggers.CSVLogger` or
:class:`~cadence.loggers.JSONLinesLogger` instead.

Example:
    >>> MLflowLogger()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotImplementedError: MLflowLogger (MLflow) is not yet available in cadence. Use TensorboardLogger, ...
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.unavailable import UnavailableHandler, UnavailableLogger

__all__ = ["MLflowLogger", "OptimizerParamsHandler", "OutputHandler", "global_step_from_engine"]


class MLflowLogger(UnavailableLogger):
    """Logs to MLflow (not yet available in cadence).

    Example:
        >>> MLflowLogger.service
        'MLflow'
    """

    service = "MLflow"


class OutputHandler(UnavailableHandler):
    """The OutputHandler of :class:`MLflowLogger` (not yet available in cadence).

    Example:
        >>> OutputHandler.service
        'MLflow'
    """

    service = "MLflow"


class OptimizerParamsHandler(UnavailableHandler):
    """The OptimizerParamsHandler of :class:`MLflowLogger` (not yet available in cadence).

    Example:
        >>> OptimizerParamsHandler.service
        'MLflow'
    """

    service = "MLflow"
