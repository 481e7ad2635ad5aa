"""Ignite's ``ignite.metrics.hsic`` path: :class:`~cadence.metrics.kernel_statistics.HSIC`.

Example:
    >>> from cadence.metrics.hsic import HSIC
    >>> from cadence.metrics import HSIC as Same
    >>> HSIC is Same
    True
"""

from cadence.metrics.kernel_statistics import HSIC

__all__ = ["HSIC"]
