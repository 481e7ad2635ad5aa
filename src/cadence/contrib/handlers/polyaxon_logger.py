"""Ignite's old ``ignite.contrib.handlers.polyaxon_logger`` path: re-exports
:mod:`cadence.handlers.polyaxon_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.polyaxon_logger import PolyaxonLogger
    >>> from cadence.handlers.polyaxon_logger import PolyaxonLogger as Same
    >>> PolyaxonLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.polyaxon_logger import (
    OptimizerParamsHandler,
    OutputHandler,
    PolyaxonLogger,
)

warn_moved(__name__, "cadence.handlers.polyaxon_logger")


__all__ = ["OptimizerParamsHandler", "OutputHandler", "PolyaxonLogger"]
