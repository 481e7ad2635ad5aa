"""Ignite's ``ignite.metrics.running_average`` path: :class:`~cadence.metrics.running.RunningAverage`.

Example:
    >>> from cadence.metrics.running_average import RunningAverage
    >>> from cadence.metrics import RunningAverage as Same
    >>> RunningAverage is Same
    True
"""

from cadence.metrics.running import RunningAverage

__all__ = ["RunningAverage"]
