"""Ignite's old ``ignite.contrib.metrics.regression.manhattan_distance`` path.

It re-exports :class:`~cadence.metrics.regression.manhattan_distance.ManhattanDistance`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.manhattan_distance as old_path
    >>> from cadence.metrics.regression import ManhattanDistance
    >>> old_path.ManhattanDistance is ManhattanDistance
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.manhattan_distance import ManhattanDistance

warn_moved(__name__, "cadence.metrics.regression.manhattan_distance")

__all__ = ["ManhattanDistance"]
