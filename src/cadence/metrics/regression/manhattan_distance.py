"""Ignite's ``ignite.metrics.regression.manhattan_distance`` path: re-exports
:class:`~cadence.metrics.regression.errors.ManhattanDistance`.

Example:
    >>> from cadence.metrics.regression.manhattan_distance import ManhattanDistance
    >>> from cadence.metrics.regression.errors import ManhattanDistance as Same
    >>> ManhattanDistance is Same
    True
"""

from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import ManhattanDistance

__all__ = ["ManhattanDistance"]
