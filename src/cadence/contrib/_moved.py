"""The deprecation notice of Ignite's old ``ignite.contrib.handlers.*`` paths."""

from __future__ import annotations

import warnings

__all__ = ["warn_moved"]


def warn_moved(old: str, new: str) -> None:
    """Warn (``DeprecationWarning``) that the module ``old`` moved to ``new``, as Ignite does for these paths.

    Example:
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_moved("cadence.contrib.handlers.x", "cadence.handlers.x")
        >>> print(caught[0].message)  # doctest: +ELLIPSIS
        cadence.contrib.handlers.x has moved to cadence.handlers.x and will be removed in version 0.6.0 ...
    """
    warnings.warn(
        f"{old} has moved to {new} and will be removed in version 0.6.0 (as in Ignite); import from {new}.",
        DeprecationWarning,
        stacklevel=3,
    )
