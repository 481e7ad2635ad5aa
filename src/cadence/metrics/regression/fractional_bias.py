"""Ignite's ``ignite.metrics.regression.fractional_bias`` path: re-exports
:class:`~cadence.metrics.regression.errors.FractionalBias`.

Example:
    >>> from cadence.metrics.regression.fractional_bias import FractionalBias
    >>> from cadence.metrics.regression.errors import FractionalBias as Same
    >>> FractionalBias is Same
    True
"""

from cadence.metrics.metric import NotComputableError
from cadence.metrics.regression.errors import FractionalBias

__all__ = ["FractionalBias", "NotComputableError"]
