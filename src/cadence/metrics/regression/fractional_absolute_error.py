"""Ignite's ``ignite.metrics.regression.fractional_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.FractionalAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.fractional_absolute_error import FractionalAbsoluteError
    >>> from cadence.metrics.regression.errors import FractionalAbsoluteError as Same
    >>> FractionalAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import FractionalAbsoluteError

__all__ = ["FractionalAbsoluteError"]
