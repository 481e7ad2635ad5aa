"""Ignite's ``ignite.metrics.regression.wave_hedges_distance`` path: re-exports
:class:`~cadence.metrics.regression.errors.WaveHedgesDistance`.

Example:
    >>> from cadence.metrics.regression.wave_hedges_distance import WaveHedgesDistance
    >>> from cadence.metrics.regression.errors import WaveHedgesDistance as Same
    >>> WaveHedgesDistance is Same
    True
"""

from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import WaveHedgesDistance

__all__ = ["WaveHedgesDistance"]
