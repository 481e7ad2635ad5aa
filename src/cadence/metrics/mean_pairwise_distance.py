"""Ignite's ``ignite.metrics.mean_pairwise_distance`` path: re-exports
:class:`~cadence.metrics.pairwise.MeanPairwiseDistance`.

Example:
    >>> from cadence.metrics.mean_pairwise_distance import MeanPairwiseDistance
    >>> from cadence.metrics.pairwise import MeanPairwiseDistance as Same
    >>> MeanPairwiseDistance is Same
    True
"""

from cadence.metrics.pairwise import MeanPairwiseDistance

__all__ = ["MeanPairwiseDistance"]
