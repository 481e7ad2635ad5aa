"""Ignite's ``ignite.metrics.regression.mean_normalized_bias`` path: re-exports
:class:`~cadence.metrics.regression.errors.MeanNormalizedBias`.

Example:
    >>> from cadence.metrics.regression.mean_normalized_bias import MeanNormalizedBias
    >>> from cadence.metrics.regression.errors import MeanNormalizedBias as Same
    >>> MeanNormalizedBias is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import MeanNormalizedBias

__all__ = ["MeanNormalizedBias"]
