"""Ignite's ``ignite.metrics.regression.fractional_bias`` path: re-exports
:class:`~cadence.metrics.regression.errors.FractionalBias`.

Example:
    >>> from cadence.metrics.regression.fractional_bias import FractionalBias
    >>> from cadence.metrics.regression.errors import FractionalBias as Same
    >>> FractionalBias is Same
    True
"""

from cadence.metrics.metric import NotComputableError, reinit__is_reduced, sync_all_reduce
from cadence.metrics.regression.errors import FractionalBias

__all__ = ["FractionalBias", "NotComputableError", "reinit__is_reduced", "sync_all_reduce"]
