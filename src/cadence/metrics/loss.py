"""Ignite's ``ignite.metrics.loss`` path: :class:`~cadence.metrics.running.Loss`.

Example:
    >>> from cadence.metrics.loss import Loss
    >>> from cadence.metrics import Loss as Same
    >>> Loss is Same
    True
"""

from cadence.metrics.running import Loss

__all__ = ["Loss"]
