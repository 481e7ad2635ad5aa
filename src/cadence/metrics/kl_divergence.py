"""Ignite's ``ignite.metrics.kl_divergence`` path: :class:`~cadence.metrics.information.KLDivergence`.

Example:
    >>> from cadence.metrics.kl_divergence import KLDivergence
    >>> from cadence.metrics import KLDivergence as Same
    >>> KLDivergence is Same
    True
"""

from cadence.metrics.information import KLDivergence

__all__ = ["KLDivergence"]
