"""Ignite's ``ignite.handlers.clearml_logger`` path: ClearML logging is not yet available in cadence.

Every name imports; building a logger or handler raises ``NotImplementedError``. Log with
:class:`~cadence.loggers.TensorboardLogger`, :class:`~cadence.loggers.CSVLogger` or
:class:`~cadence.loggers.JSONLinesLogger` instead.

Example:
    >>> ClearMLLogger()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotImplementedError: ClearMLLogger (ClearML) is not yet available in cadence. Use TensorboardLogger, ...
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.unavailable import UnavailableHandler, UnavailableLogger

__all__ = [
    "ClearMLLogger",
    "ClearMLSaver",
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


class ClearMLLogger(UnavailableLogger):
    """Logs to ClearML (not yet available in cadence).

    Example:
        >>> ClearMLLogger.service
        'ClearML'
    """

    service = "ClearML"


class ClearMLSaver(UnavailableHandler):
    """Saves checkpoints to ClearML (not yet available in cadence).

    Example:
        >>> ClearMLSaver.service
        'ClearML'
    """

    service = "ClearML"


class OptimizerParamsHandler(UnavailableHandler):
    """The OptimizerParamsHandler of :class:`ClearMLLogger` (not yet available in cadence).

    Example:
        >>> OptimizerParamsHandler.service
        'ClearML'
    """

    service = "ClearML"


class OutputHandler(UnavailableHandler):
    """The OutputHandler of :class:`ClearMLLogger` (not yet available in cadence).

    Example:
        >>> OutputHandler.service
        'ClearML'
    """

    service = "ClearML"


class WeightsScalarHandler(UnavailableHandler):
    """The WeightsScalarHandler of :class:`ClearMLLogger` (not yet available in cadence).

    Example:
        >>> WeightsScalarHandler.service
        'ClearML'
    """

    service = "ClearML"


class WeightsHistHandler(UnavailableHandler):
    """The WeightsHistHandler of :class:`ClearMLLogger` (not yet available in cadence).

    Example:
        >>> WeightsHistHandler.service
        'ClearML'
    """

    service = "ClearML"


class GradsScalarHandler(UnavailableHandler):
    """The GradsScalarHandler of :class:`ClearMLLogger` (not yet available in cadence).

    Example:
        >>> GradsScalarHandler.service
        'ClearML'
    """

    service = "ClearML"


class GradsHistHandler(UnavailableHandler):
    """The GradsHistHandler of :class:`ClearMLLogger` (not yet available in cadence).

    Example:
        >>> GradsHistHandler.service
        'ClearML'
    """

    service = "ClearML"
