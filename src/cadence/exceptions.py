"""cadence's exceptions (also Ignite's ``ignite.exceptions`` import path)."""

__all__ = ["NotComputableError"]


class NotComputableError(RuntimeError):
    """Raised by ``compute()`` when a metric has not seen the data it needs (e.g. before any update).

    Example:
        >>> from cadence.metrics import Accuracy
        >>> try:
        ...     Accuracy().compute()
        ... except NotComputableError as error:
        ...     print("not yet")
        not yet
    """
