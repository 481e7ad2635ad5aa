"""Ignite's ``ignite.metrics.top_k_categorical_accuracy`` path: re-exports
:class:`~cadence.metrics.classification.TopKCategoricalAccuracy`.

Example:
    >>> from cadence.metrics.top_k_categorical_accuracy import TopKCategoricalAccuracy
    >>> from cadence.metrics.classification import TopKCategoricalAccuracy as Same
    >>> TopKCategoricalAccuracy is Same
    True
"""

from cadence.metrics.classification import TopKCategoricalAccuracy

__all__ = ["TopKCategoricalAccuracy"]
