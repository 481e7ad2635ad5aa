"""Ignite's old ``ignite.contrib.handlers.base_logger`` path: re-exports
:mod:`cadence.handlers.base_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.base_logger import BaseHandler
    >>> from cadence.handlers.base_logger import BaseHandler as Same
    >>> BaseHandler is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.base_logger import (
    BaseHandler,
    BaseLogger,
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
)

warn_moved(__name__, "cadence.handlers.base_logger")


__all__ = [
    "BaseHandler",
    "BaseLogger",
    "BaseOptimizerParamsHandler",
    "BaseOutputHandler",
    "BaseWeightsHandler",
    "BaseWeightsScalarHandler",
]
