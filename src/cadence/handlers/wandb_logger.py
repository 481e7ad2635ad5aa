"""Ignite's ``ignite.handlers.wandb_logger`` path: :mod:`cadence.loggers.wandb`.

Example:
    >>> from cadence.handlers.wandb_logger import WandBLogger
    >>> from cadence.loggers.wandb import WandBLogger as Same
    >>> WandBLogger is Same
    True
"""

from cadence.handlers.utils import global_step_from_engine
from cadence.loggers.wandb import OptimizerParamsHandler, OutputHandler, WandBLogger

__all__ = ["OptimizerParamsHandler", "OutputHandler", "WandBLogger", "global_step_from_engine"]
