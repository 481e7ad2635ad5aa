"""Ignite's ``ignite.handlers.tqdm_logger`` path: :class:`ProgressBar` (from :mod:`cadence.handlers.progress_bar`).

Example:
    >>> from cadence.handlers.tqdm_logger import ProgressBar
    >>> ProgressBar(persist=True).persist
    True
"""

from cadence.engine import CallableEventWithFilter as CallableEventWithFilter
from cadence.engine import Engine as Engine
from cadence.engine import Events as Events
from cadence.engine import RemovableEventHandle as RemovableEventHandle
from cadence.handlers.base_logger import BaseLogger as BaseLogger
from cadence.handlers.base_logger import BaseOutputHandler as BaseOutputHandler
from cadence.handlers.progress_bar import ProgressBar

__all__ = ["ProgressBar"]
