"""Ignite's ``ignite.handlers.polyaxon_logger`` path: :mod:`cadence.loggers.polyaxon`.

Example:
    >>> from cadence.handlers.polyaxon_logger import PolyaxonLogger
    >>> from cadence.loggers.polyaxon import PolyaxonLogger as Same
    >>> PolyaxonLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.polyaxon import OptimizerParamsHandler, OutputHandler, PolyaxonLogger

__all__ = ["OptimizerParamsHandler", "OutputHandler", "PolyaxonLogger", "global_step_from_engine"]
