"""Ignite's ``ignite.handlers.wandb_logger`` path: Weights & Biases logging is not yet available in cadence.

Every name imports; building a logger or handler raises ``NotImplementedError``. Log with
:class:`~cadence.loggers.TensorboardLogger`, :class:`~cadence.loggers.CSVLogger` or
:class:`~cadence.loggers.JSONLinesLogger` instead.

Example:
    >>> WandBLogger()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotImplementedError: WandBLogger (Weights & Biases) is not yet available in cadence. Use TensorboardLogger, ...
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.unavailable import UnavailableHandler, UnavailableLogger

__all__ = ["OptimizerParamsHandler", "OutputHandler", "WandBLogger", "global_step_from_engine"]


class WandBLogger(UnavailableLogger):
    """Logs to Weights & Biases (not yet available in cadence).

    Example:
        >>> WandBLogger.service
        'Weights & Biases'
    """

    service = "Weights & Biases"


class OutputHandler(UnavailableHandler):
    """The OutputHandler of :class:`WandBLogger` (not yet available in cadence).

    Example:
        >>> OutputHandler.service
        'Weights & Biases'
    """

    service = "Weights & Biases"


class OptimizerParamsHandler(UnavailableHandler):
    """The OptimizerParamsHandler of :class:`WandBLogger` (not yet available in cadence).

    Example:
        >>> OptimizerParamsHandler.service
        'Weights & Biases'
    """

    service = "Weights & Biases"
