"""Ignite's old ``ignite.contrib.metrics.regression.r2_score`` path.

It re-exports :class:`~cadence.metrics.regression.r2_score.R2Score`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.r2_score as old_path
    >>> from cadence.metrics.regression import R2Score
    >>> old_path.R2Score is R2Score
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.r2_score import R2Score

warn_moved(__name__, "cadence.metrics.regression.r2_score")

__all__ = ["R2Score"]
