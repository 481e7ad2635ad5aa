"""Ignite's ``ignite.metrics.clustering.calinski_harabasz_score`` path: re-exports
:class:`~cadence.metrics.clustering.scores.CalinskiHarabaszScore`.

Example:
    >>> from cadence.metrics.clustering.calinski_harabasz_score import CalinskiHarabaszScore
    >>> from cadence.metrics.clustering.scores import CalinskiHarabaszScore as Same
    >>> CalinskiHarabaszScore is Same
    True
"""

from cadence.metrics.clustering.scores import CalinskiHarabaszScore

__all__ = ["CalinskiHarabaszScore"]
