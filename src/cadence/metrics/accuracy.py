"""Ignite's ``ignite.metrics.accuracy`` path: re-exports :class:`~cadence.metrics.classification.Accuracy`.

Example:
    >>> from cadence.metrics.accuracy import Accuracy
    >>> from cadence.metrics.classification import Accuracy as Same
    >>> Accuracy is Same
    True
"""

from cadence.metrics.classification import Accuracy

__all__ = ["Accuracy"]
