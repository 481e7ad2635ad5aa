"""Ignite's old ``ignite.contrib.metrics.regression.fractional_bias`` path.

It re-exports :class:`~cadence.metrics.regression.fractional_bias.FractionalBias`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.fractional_bias as old_path
    >>> from cadence.metrics.regression import FractionalBias
    >>> old_path.FractionalBias is FractionalBias
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.fractional_bias import FractionalBias

warn_moved(__name__, "cadence.metrics.regression.fractional_bias")

__all__ = ["FractionalBias"]
