"""Ignite's ``ignite.metrics.cosine_similarity`` path: re-exports
:class:`~cadence.metrics.pairwise.CosineSimilarity`.

Example:
    >>> from cadence.metrics.cosine_similarity import CosineSimilarity
    >>> from cadence.metrics.pairwise import CosineSimilarity as Same
    >>> CosineSimilarity is Same
    True
"""

from cadence.metrics.pairwise import CosineSimilarity

__all__ = ["CosineSimilarity"]
