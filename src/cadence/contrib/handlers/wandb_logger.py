"""Ignite's old ``ignite.contrib.handlers.wandb_logger`` path: re-exports
:mod:`cadence.handlers.wandb_logger`, and warns on import as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from cadence.contrib.handlers.wandb_logger import WandBLogger
    >>> from cadence.handlers.wandb_logger import WandBLogger as Same
    >>> WandBLogger is Same
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.handlers.wandb_logger import (
    OptimizerParamsHandler,
    OutputHandler,
    WandBLogger,
)

warn_moved(__name__, "cadence.handlers.wandb_logger")


__all__ = ["OptimizerParamsHandler", "OutputHandler", "WandBLogger"]
