"""Ignite's ``ignite.handlers.polyaxon_logger`` path: Polyaxon logging is not yet available in cadence.

Every name imports; building a logger or handler raises ``NotImplementedError``. Log with
:class:`~cadence.loggers.TensorboardLogger`, :class:`~cadence.loggers.CSVLogger` or
:class:`~cadence.loggers.JSONLinesLogger` instead.

Example:
    >>> PolyaxonLogger()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotImplementedError: PolyaxonLogger (Polyaxon) is not yet available in cadence. Use TensorboardLogger, ...
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.unavailable import UnavailableHandler, UnavailableLogger

__all__ = ["OptimizerParamsHandler", "OutputHandler", "PolyaxonLogger", "global_step_from_engine"]


class PolyaxonLogger(UnavailableLogger):
    """Logs to Polyaxon (not yet available in cadence).

    Example:
        >>> PolyaxonLogger.service
        'Polyaxon'
    """

    service = "Polyaxon"


class OutputHandler(UnavailableHandler):
    """The OutputHandler of :class:`PolyaxonLogger` (not yet available in cadence).

    Example:
        >>> OutputHandler.service
        'Polyaxon'
    """

    service = "Polyaxon"


class OptimizerParamsHandler(UnavailableHandler):
    """The OptimizerParamsHandler of :class:`PolyaxonLogger` (not yet available in cadence).

    Example:
        >>> OptimizerParamsHandler.service
        'Polyaxon'
    """

    service = "Polyaxon"
