"""Ignite's ``ignite.metrics.recall`` path: re-exports :class:`~cadence.metrics.classification.Recall`.

Example:
    >>> from cadence.metrics.recall import Recall
    >>> from cadence.metrics.classification import Recall as Same
    >>> Recall is Same
    True
"""

from cadence.metrics.classification import Recall

__all__ = ["Recall"]
