"""Ignite's ``ignite.handlers.base_logger`` path: the logger and log-handler bases of :mod:`cadence.loggers`.

Example:
    >>> from cadence.handlers.base_logger import BaseLogger
    >>> from cadence.loggers import BaseLogger as Same
    >>> BaseLogger is Same
    True
"""

from cadence.engine import CallableEventWithFilter as CallableEventWithFilter
from cadence.engine import Engine as Engine
from cadence.engine import Events as Events
from cadence.engine import EventsList as EventsList
from cadence.engine import RemovableEventHandle as RemovableEventHandle
from cadence.engine import State as State
from cadence.loggers.base import (
    BaseHandler,
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
)
from cadence.loggers.logger import BaseLogger

__all__ = [
    "BaseHandler",
    "BaseLogger",
    "BaseOptimizerParamsHandler",
    "BaseOutputHandler",
    "BaseWeightsHandler",
    "BaseWeightsScalarHandler",
]
