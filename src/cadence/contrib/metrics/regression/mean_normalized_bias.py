"""Ignite's old ``ignite.contrib.metrics.regression.mean_normalized_bias`` path.

It re-exports :class:`~cadence.metrics.regression.mean_normalized_bias.MeanNormalizedBias`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.mean_normalized_bias as old_path
    >>> from cadence.metrics.regression import MeanNormalizedBias
    >>> old_path.MeanNormalizedBias is MeanNormalizedBias
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.mean_normalized_bias import MeanNormalizedBias

warn_moved(__name__, "cadence.metrics.regression.mean_normalized_bias")

__all__ = ["MeanNormalizedBias"]
