"""Ignite's ``ignite.metrics.clustering.davies_bouldin_score`` path: re-exports
:class:`~cadence.metrics.clustering.scores.DaviesBouldinScore`.

Example:
    >>> from cadence.metrics.clustering.davies_bouldin_score import DaviesBouldinScore
    >>> from cadence.metrics.clustering.scores import DaviesBouldinScore as Same
    >>> DaviesBouldinScore is Same
    True
"""

from cadence.metrics.clustering.scores import DaviesBouldinScore

__all__ = ["DaviesBouldinScore"]
