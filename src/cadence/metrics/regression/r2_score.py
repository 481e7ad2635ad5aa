"""Ignite's ``ignite.metrics.regression.r2_score`` path: re-exports
:class:`~cadence.metrics.regression.moments.R2Score`.

Example:
    >>> from cadence.metrics.regression.r2_score import R2Score
    >>> from cadence.metrics.regression.moments import R2Score as Same
    >>> R2Score is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.moments import R2Score

__all__ = ["R2Score"]
