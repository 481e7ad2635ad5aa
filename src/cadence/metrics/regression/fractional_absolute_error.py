"""Ignite's ``ignite.metrics.regression.fractional_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.FractionalAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.fractional_absolute_error import FractionalAbsoluteError
    >>> from cadence.metrics.regression.errors import FractionalAbsoluteError as Same
    >>> FractionalAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError, reinit__is_reduced, sync_all_reduce
from cadence.metrics.regression.errors import FractionalAbsoluteError

__all__ = ["FractionalAbsoluteError", "NotComputableError", "reinit__is_reduced", "sync_all_reduce"]
