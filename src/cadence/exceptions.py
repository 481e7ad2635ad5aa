"""cadence's exceptions, at Ignite's ``ignite.exceptions`` import path.

Example:
    >>> from cadence.exceptions import NotComputableError
    >>> issubclass(NotComputableError, RuntimeError)
    True
"""

from cadence.metrics.metric import NotComputableError

__all__ = ["NotComputableError"]
