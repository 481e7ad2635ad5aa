"""Ignite's ``ignite.metrics.entropy`` path: :class:`~cadence.metrics.information.Entropy`.

Example:
    >>> from cadence.metrics.entropy import Entropy
    >>> from cadence.metrics import Entropy as Same
    >>> Entropy is Same
    True
"""

from cadence.metrics.information import Entropy

__all__ = ["Entropy"]
