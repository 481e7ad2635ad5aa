"""Ignite's ``ignite.metrics.regression.canberra_metric`` path: re-exports
:class:`~cadence.metrics.regression.errors.CanberraMetric`.

Example:
    >>> from cadence.metrics.regression.canberra_metric import CanberraMetric
    >>> from cadence.metrics.regression.errors import CanberraMetric as Same
    >>> CanberraMetric is Same
    True
"""

from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import CanberraMetric

__all__ = ["CanberraMetric"]
