"""Ignite's ``ignite.handlers.neptune_logger`` path: Neptune logging is not yet available in cadence.

Every name imports; building a logger or handler raises ``NotImplementedError``. Log with
:class:`~cadence.loggers.TensorboardLogger`, :class:`~cadence.loggers.CSVLogger` or
:class:`~cadence.loggers.JSONLinesLogger` instead.

Example:
    >>> NeptuneLogger()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotImplementedError: NeptuneLogger (Neptune) is not yet available in cadence. Use TensorboardLogger, ...
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.unavailable import UnavailableHandler, UnavailableLogger

__all__ = [
    "GradsScalarHandler",
    "NeptuneLogger",
    "NeptuneSaver",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


class NeptuneLogger(UnavailableLogger):
    """Logs to Neptune (not yet available in cadence).

    Example:
        >>> NeptuneLogger.service
        'Neptune'
    """

    service = "Neptune"


class NeptuneSaver(UnavailableHandler):
    """Saves checkpoints to Neptune (not yet available in cadence).

    Example:
        >>> NeptuneSaver.service
        'Neptune'
    """

    service = "Neptune"


class OptimizerParamsHandler(UnavailableHandler):
    """The OptimizerParamsHandler of :class:`NeptuneLogger` (not yet available in cadence).

    Example:
        >>> OptimizerParamsHandler.service
        'Neptune'
    """

    service = "Neptune"


class OutputHandler(UnavailableHandler):
    """The OutputHandler of :class:`NeptuneLogger` (not yet available in cadence).

    Example:
        >>> OutputHandler.service
        'Neptune'
    """

    service = "Neptune"


class WeightsScalarHandler(UnavailableHandler):
    """The WeightsScalarHandler of :class:`NeptuneLogger` (not yet available in cadence).

    Example:
        >>> WeightsScalarHandler.service
        'Neptune'
    """

    service = "Neptune"


class GradsScalarHandler(UnavailableHandler):
    """The GradsScalarHandler of :class:`NeptuneLogger` (not yet available in cadence).

    Example:
        >>> GradsScalarHandler.service
        'Neptune'
    """

    service = "Neptune"
