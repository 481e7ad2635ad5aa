"""Ignite's old ``ignite.contrib.handlers.tqdm_logger`` path: re-exports
:class:`~cadence.handlers.ProgressBar`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.tqdm_logger import ProgressBar
    >>> from cadence.handlers import ProgressBar as Same
    >>> ProgressBar is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers import ProgressBar

warn_moved(__name__, "cadence.handlers.tqdm_logger")

__all__ = ["ProgressBar"]
