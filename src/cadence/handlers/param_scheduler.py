"""Ignite's ``ignite.handlers.param_scheduler`` path: every parameter scheduler, re-exported.

The code lives by concept: :mod:`~cadence.handlers.scheduler_base` (the protocol),
:mod:`~cadence.handlers.cyclical_scheduler`, :mod:`~cadence.handlers.piecewise_linear`,
:mod:`~cadence.handlers.combined_scheduler`, :mod:`~cadence.handlers.lr_scheduler`,
:mod:`~cadence.handlers.reduce_lr_on_plateau` and :mod:`~cadence.handlers.batch_size_scheduler`.
The engine names Ignite's module imports are importable from here too.

Example:
    >>> from cadence.handlers.param_scheduler import LinearCyclicalScheduler
    >>> [v for _, v in LinearCyclicalScheduler.simulate_values(
    ...     4, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=2)]
    [1.0, 0.0, 1.0, 0.0]
"""

from cadence.engine import CallableEventWithFilter as CallableEventWithFilter
from cadence.engine import Engine as Engine
from cadence.engine import Events as Events
from cadence.engine import EventsList as EventsList
from cadence.handlers.batch_size_scheduler import BatchSizeScheduler
from cadence.handlers.combined_scheduler import ConcatScheduler, ParamGroupScheduler
from cadence.handlers.cyclical_scheduler import CosineAnnealingScheduler, CyclicalScheduler, LinearCyclicalScheduler
from cadence.handlers.lr_scheduler import LRScheduler, create_lr_scheduler_with_warmup
from cadence.handlers.piecewise_linear import PiecewiseLinear
from cadence.handlers.reduce_lr_on_plateau import ReduceLROnPlateauScheduler
from cadence.handlers.scheduler_base import BaseParamScheduler, ParamScheduler

__all__ = [
    "BaseParamScheduler",
    "BatchSizeScheduler",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "ParamGroupScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
    "ReduceLROnPlateauScheduler",
    "create_lr_scheduler_with_warmup",
]
