"""Ignite's ``ignite.metrics.regression.r2_score`` path: re-exports
:class:`~cadence.metrics.regression.moments.R2Score`.

Example:
    >>> from cadence.metrics.regression.r2_score import R2Score
    >>> from cadence.metrics.regression.moments import R2Score as Same
    >>> R2Score is Same
    True
"""

from cadence.metrics.metric import NotComputableError, reinit__is_reduced, sync_all_reduce
from cadence.metrics.regression.moments import R2Score

__all__ = ["NotComputableError", "R2Score", "reinit__is_reduced", "sync_all_reduce"]
