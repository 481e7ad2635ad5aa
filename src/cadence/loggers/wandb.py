"""Weights & Biases logging through the ``wandb`` client (the optional ``wandb`` extra): the handlers call
``wandb.log`` on the run that the logger starts (online, or ``mode="offline"`` to write only local files)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from torch.optim import Optimizer

from cadence.engine import Engine
from cadence.loggers._service import KeyedOutputHandler, import_client, require_logger
from cadence.loggers.base import BaseOptimizerParamsHandler, EventName, GlobalStepTransform, default_global_step
from cadence.loggers.logger import BaseLogger

__all__ = ["OptimizerParamsHandler", "OutputHandler", "WandBLogger"]


def _wandb() -> Any:
    return import_client("wandb", needs="wandb to be installed", package="wandb", extra="wandb")


def _warn_sync(sync: bool | None) -> None:
    if sync is not None:
        warnings.warn(
            "The sync argument of the WandBLogger handlers is no longer used (wandb decides when to send); "
            "leave it out.",
            UserWarning,
            stacklevel=3,
        )


class WandBLogger(BaseLogger):
    """Log to Weights & Biases: building the logger calls ``wandb.init(*args, **kwargs)`` (``project``,
    ``name``, ``config``, ``dir``, ``mode="offline"``...), unless ``init=False`` (a run already started).

    Any ``wandb`` function or attribute is reachable through the logger (``logger.run``,
    ``logger.watch(model)``). ``close()`` calls ``wandb.finish()``.

    Example:
        >>> import glob, tempfile
        >>> from cadence import Engine, Events
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> folder = tempfile.mkdtemp()
        >>> with WandBLogger(project="demo", mode="offline", dir=folder) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
        ...                                      output_transform=lambda loss: {"loss": loss})
        ...     _ = trainer.run([1, 2])
        >>> len(glob.glob(folder + "/wandb/offline-run-*/run-*.wandb"))  # the run's records, for wandb sync
        1
    """

    def __init__(self, *args: Any, init: bool = True, **kwargs: Any) -> None:
        self._wandb = _wandb()
        if init:
            self._wandb.init(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not the client's to answer
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self._wandb, name)

    def close(self) -> None:
        self._wandb.finish()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


class OutputHandler(KeyedOutputHandler):
    """Log metrics, the transformed output and state attributes as ``{tag}/{name}`` with one ``wandb.log``
    call; text values are logged too. Arguments as in :class:`~cadence.loggers.base.BaseOutputHandler`;
    ``sync`` is accepted for Ignite's sake and unused (a warning says so).

    Example:
        >>> handler = OutputHandler("training", output_transform=lambda loss: {"loss": loss})
        >>> handler.tag
        'training'
    """

    def __init__(
        self,
        tag: str,
        metric_names: str | list[str] | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        global_step_transform: GlobalStepTransform | None = None,
        sync: bool | None = None,
        state_attributes: list[str] | None = None,
    ) -> None:
        super().__init__(tag, metric_names, output_transform, global_step_transform, state_attributes)
        _warn_sync(sync)

    def __call__(self, engine: Engine[Any], logger: WandBLogger, event_name: EventName) -> None:
        require_logger(logger, WandBLogger, "'OutputHandler'")
        step = self.global_step(engine, event_name)
        values = self.collect_keyed(engine, keep_text=True)
        logger.log({"/".join(key): value for key, value in values.items()}, step=step)


class OptimizerParamsHandler(BaseOptimizerParamsHandler):
    """Log ``param_name`` (default ``"lr"``) of every parameter group as ``[{tag}/]{param_name}/group_{i}``;
    ``sync`` is accepted for Ignite's sake and unused.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer, tag="generator").collect()
        {'generator/lr/group_0': 0.1}
    """

    def __init__(
        self, optimizer: Optimizer, param_name: str = "lr", tag: str | None = None, sync: bool | None = None
    ) -> None:
        super().__init__(optimizer, param_name, tag)
        _warn_sync(sync)

    def __call__(self, engine: Engine[Any], logger: WandBLogger, event_name: EventName) -> None:
        require_logger(logger, WandBLogger, "OptimizerParamsHandler")
        logger.log(self.collect(), step=default_global_step(engine, event_name))
