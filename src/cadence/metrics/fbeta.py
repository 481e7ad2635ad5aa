"""Ignite's ``ignite.metrics.fbeta`` path: re-exports :func:`~cadence.metrics.classification.Fbeta`.

Example:
    >>> from cadence.metrics.fbeta import Fbeta
    >>> from cadence.metrics.classification import Fbeta as Same
    >>> Fbeta is Same
    True
"""

from cadence.metrics.classification import Fbeta

__all__ = ["Fbeta"]
