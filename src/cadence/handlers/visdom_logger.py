"""Ignite's ``ignite.handlers.visdom_logger`` path: Visdom logging is not yet available in cadence.

Every name imports; building a logger or handler raises ``NotImplementedError``. Log with
:class:`~cadence.loggers.TensorboardLogger`, :class:`~cadence.loggers.CSVLogger` or
:class:`~cadence.loggers.JSONLinesLogger` instead.

Example:
    >>> VisdomLogger()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotImplementedError: VisdomLogger (Visdom) is not yet available in cadence. Use TensorboardLogger, ...
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.unavailable import UnavailableHandler, UnavailableLogger

__all__ = [
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "VisdomLogger",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


class VisdomLogger(UnavailableLogger):
    """Logs to Visdom (not yet available in cadence).

    Example:
        >>> VisdomLogger.service
        'Visdom'
    """

    service = "Visdom"


class OptimizerParamsHandler(UnavailableHandler):
    """The OptimizerParamsHandler of :class:`VisdomLogger` (not yet available in cadence).

    Example:
        >>> OptimizerParamsHandler.service
        'Visdom'
    """

    service = "Visdom"


class OutputHandler(UnavailableHandler):
    """The OutputHandler of :class:`VisdomLogger` (not yet available in cadence).

    Example:
        >>> OutputHandler.service
        'Visdom'
    """

    service = "Visdom"


class WeightsScalarHandler(UnavailableHandler):
    """The WeightsScalarHandler of :class:`VisdomLogger` (not yet available in cadence).

    Example:
        >>> WeightsScalarHandler.service
        'Visdom'
    """

    service = "Visdom"


class GradsScalarHandler(UnavailableHandler):
    """The GradsScalarHandler of :class:`VisdomLogger` (not yet available in cadence).

    Example:
        >>> GradsScalarHandler.service
        'Visdom'
    """

    service = "Visdom"
