"""Ignite's old ``ignite.contrib.handlers.param_scheduler`` path: re-exports
:mod:`cadence.handlers.param_scheduler`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.param_scheduler import ConcatScheduler
    >>> from cadence.handlers.param_scheduler import ConcatScheduler as Same
    >>> ConcatScheduler is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.param_scheduler import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    CyclicalScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamGroupScheduler,
    ParamScheduler,
    PiecewiseLinear,
    create_lr_scheduler_with_warmup,
)

warn_moved(__name__, "cadence.handlers.param_scheduler")


__all__ = [
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "ParamGroupScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
    "create_lr_scheduler_with_warmup",
]
