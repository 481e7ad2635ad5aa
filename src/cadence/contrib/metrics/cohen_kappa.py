"""Ignite's old ``ignite.contrib.metrics.cohen_kappa`` path: re-exports
:mod:`cadence.metrics.cohen_kappa`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.metrics.cohen_kappa import CohenKappa
    >>> from cadence.metrics.cohen_kappa import CohenKappa as Same
    >>> CohenKappa is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.cohen_kappa import CohenKappa

warn_moved(__name__, "cadence.metrics.cohen_kappa")

__all__ = ["CohenKappa"]
