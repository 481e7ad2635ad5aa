"""Ignite's ``ignite.metrics.clustering.silhouette_score`` path: re-exports
:class:`~cadence.metrics.clustering.scores.SilhouetteScore`.

Example:
    >>> from cadence.metrics.clustering.silhouette_score import SilhouetteScore
    >>> from cadence.metrics.clustering.scores import SilhouetteScore as Same
    >>> SilhouetteScore is Same
    True
"""

from cadence.metrics.clustering.scores import SilhouetteScore

__all__ = ["SilhouetteScore"]
