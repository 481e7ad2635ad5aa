"""Ignite's old ``ignite.contrib.handlers.lr_finder`` path: re-exports
:mod:`cadence.handlers.lr_finder`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.lr_finder import FastaiLRFinder
    >>> from cadence.handlers.lr_finder import FastaiLRFinder as Same
    >>> FastaiLRFinder is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.lr_finder import (
    FastaiLRFinder,
)

warn_moved(__name__, "cadence.handlers.lr_finder")


__all__ = ["FastaiLRFinder"]
