"""Ignite's ``ignite.metrics.precision`` path: re-exports :class:`~cadence.metrics.classification.Precision`.

Example:
    >>> from cadence.metrics.precision import Precision
    >>> from cadence.metrics.classification import Precision as Same
    >>> Precision is Same
    True
"""

from cadence.metrics.classification import Precision

__all__ = ["Precision"]
