"""Ignite's ``ignite.metrics.regression.maximum_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.MaximumAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.maximum_absolute_error import MaximumAbsoluteError
    >>> from cadence.metrics.regression.errors import MaximumAbsoluteError as Same
    >>> MaximumAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError, reinit__is_reduced, sync_all_reduce
from cadence.metrics.regression.errors import MaximumAbsoluteError

__all__ = ["MaximumAbsoluteError", "NotComputableError", "reinit__is_reduced", "sync_all_reduce"]
