"""Ignite's old ``ignite.contrib.metrics.regression.wave_hedges_distance`` path.

It re-exports :class:`~cadence.metrics.regression.wave_hedges_distance.WaveHedgesDistance`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.wave_hedges_distance as old_path
    >>> from cadence.metrics.regression import WaveHedgesDistance
    >>> old_path.WaveHedgesDistance is WaveHedgesDistance
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.wave_hedges_distance import WaveHedgesDistance

warn_moved(__name__, "cadence.metrics.regression.wave_hedges_distance")

__all__ = ["WaveHedgesDistance"]
