"""Ignite's ``ignite.metrics.js_divergence`` path: :class:`~cadence.metrics.information.JSDivergence`.

Example:
    >>> from cadence.metrics.js_divergence import JSDivergence
    >>> from cadence.metrics import JSDivergence as Same
    >>> JSDivergence is Same
    True
"""

from cadence.metrics.information import JSDivergence

__all__ = ["JSDivergence"]
