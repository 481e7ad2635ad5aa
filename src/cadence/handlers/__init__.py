"""Handlers that attach to an :class:`~cadence.Engine`: checkpoints, early stopping, timers, NaN checks.

Example:
    >>> import cadence.handlers
    >>> cadence.handlers.__name__
    'cadence.handlers'
"""

__all__: list[str] = []

# >>> progress bar and parameter schedulers (owned by the other handlers helper: add lines only here)
# <<< progress bar and parameter schedulers
