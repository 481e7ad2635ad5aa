"""Ignite's old ``ignite.contrib.handlers.time_profilers`` path: re-exports
:mod:`cadence.handlers.time_profilers`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.time_profilers import BasicTimeProfiler
    >>> from cadence.handlers.time_profilers import BasicTimeProfiler as Same
    >>> BasicTimeProfiler is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.time_profilers import BasicTimeProfiler, HandlersTimeProfiler

warn_moved(__name__, "cadence.handlers.time_profilers")


__all__ = ["BasicTimeProfiler", "HandlersTimeProfiler"]
