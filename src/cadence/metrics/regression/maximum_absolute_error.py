"""Ignite's ``ignite.metrics.regression.maximum_absolute_error`` path: re-exports
:class:`~cadence.metrics.regression.errors.MaximumAbsoluteError`.

Example:
    >>> from cadence.metrics.regression.maximum_absolute_error import MaximumAbsoluteError
    >>> from cadence.metrics.regression.errors import MaximumAbsoluteError as Same
    >>> MaximumAbsoluteError is Same
    True
"""

from cadence.metrics.metric import NotComputableError as NotComputableError
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.regression.errors import MaximumAbsoluteError

__all__ = ["MaximumAbsoluteError"]
