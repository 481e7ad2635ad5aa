"""Ignite's ``ignite.metrics.regression.fractional_bias`` path: re-exports
:class:`~cadence.metrics.regression.errors.FractionalBias`.

Example:
    >>> from cadence.metrics.regression.fractional_bias import FractionalBias
    >>> from cadence.metrics.regression.errors import FractionalBias as Same
    >>> FractionalBias is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import FractionalBias

__all__ = ["FractionalBias"]
