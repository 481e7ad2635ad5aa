"""Ignite's ``ignite.handlers.tqdm_logger`` path: :class:`ProgressBar` (from :mod:`cadence.handlers.progress_bar`).

Example:
    >>> from cadence.handlers.tqdm_logger import ProgressBar
    >>> ProgressBar(persist=True).persist
    True
"""

from cadence.engine import CallableEventWithFilter, Engine, Events, RemovableEventHandle
from cadence.handlers.base_logger import BaseLogger, BaseOutputHandler
from cadence.handlers.progress_bar import ProgressBar

__all__ = [
    "BaseLogger",
    "BaseOutputHandler",
    "CallableEventWithFilter",
    "Engine",
    "Events",
    "ProgressBar",
    "RemovableEventHandle",
]
