"""Text logs of a training run in the style of Facebook Research's training scripts (Detectron, DINO...):
one line every few iterations with the epoch, the position, the ETA, the learning rate, the output and
the iteration and data times; a line at each epoch start and end and at the end of the run."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import torch

from cadence.engine import Engine, Events
from cadence.handlers.timing import Timer
from cadence.utils import _to_str_list

__all__ = ["FBResearchLogger"]

_MIB = 1024.0 * 1024.0


def _duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(seconds)))


class FBResearchLogger:
    """Write progress lines to a ``logging.Logger`` (``logger.info``) while an engine runs.

    Args:
        logger: where the lines go, e.g. ``cadence.utils.setup_logger("trainer")``.
        delimiter: between the parts of a line.
        show_output: also show ``engine.state.output`` (through ``output_transform`` when given).

    Example:
        >>> import logging, sys
        >>> from cadence.utils import setup_logger
        >>> log = setup_logger("fbr.doc", stream=sys.stdout, format="%(message)s", reset=True)
        >>> trainer = Engine(lambda engine, batch: {"loss": 0.5})
        >>> FBResearchLogger(log, show_output=True).attach(trainer, "Train", every=2)
        >>> _ = trainer.run(range(2))  # doctest: +ELLIPSIS
        Train: start epoch [1/1]
        Epoch [1/1]  [2/2]:  ETA: 0:00:00  loss: 0.5000  Iter time: ... s  Data prep time: ... s
        Train:   Total time: 0:00:00  (... s / it)
    """

    def __init__(self, logger: Any, delimiter: str = "  ", show_output: bool = False) -> None:
        if not callable(getattr(logger, "info", None)):
            raise TypeError(f"logger must be a logging.Logger (with an info method), got {type(logger).__name__}.")
        self.logger = logger
        self.delimiter = delimiter
        self.show_output = show_output
        self.iter_timer = Timer(average=True)
        self.data_timer = Timer(average=True)
        self.name = ""
        self.output_transform: Callable[[Any], Any] | None = None
        self.state_attributes: list[str] | None = None

    def attach(
        self,
        engine: Engine[Any],
        name: str,
        every: int = 1,
        output_transform: Callable[[Any], Any] | None = None,
        state_attributes: list[str] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        """Log ``engine``'s run under ``name``: a progress line every ``every`` iterations (with the learning
        rate of ``optimizer`` and the ``state_attributes`` when given), and epoch and run summaries."""
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive number of iterations, got {every!r}.")
        if output_transform is not None and not callable(output_transform):
            raise TypeError(f"output_transform must be callable, got {output_transform!r}.")
        self.name = name
        self.output_transform = output_transform
        self.state_attributes = state_attributes
        self.iter_timer.reset()
        self.iter_timer.attach(
            engine,
            start=Events.EPOCH_STARTED,
            resume=Events.ITERATION_STARTED,
            pause=Events.ITERATION_COMPLETED,
            step=Events.ITERATION_COMPLETED,
        )
        self.data_timer.reset()
        self.data_timer.attach(
            engine,
            start=Events.EPOCH_STARTED,
            resume=Events.GET_BATCH_STARTED,
            pause=Events.GET_BATCH_COMPLETED,
            step=Events.GET_BATCH_COMPLETED,
        )
        engine.add_event_handler(Events.EPOCH_STARTED, self.log_epoch_started, name)
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=every), self.log_every, optimizer=optimizer)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.log_epoch_completed, name)
        engine.add_event_handler(Events.COMPLETED, self.log_completed, name)

    def _epoch(self, engine: Engine[Any]) -> str:
        return f"Epoch [{engine.state.epoch}/{engine.state.max_epochs}]"

    def log_every(self, engine: Engine[Any], optimizer: torch.optim.Optimizer | None = None) -> None:
        """Log the progress line: position in the epoch, ETA, learning rates, output, times and GPU memory."""
        epoch_length = engine.state.epoch_length or engine.state.iteration or 1
        position = (engine.state.iteration - 1) % epoch_length + 1
        iteration_time = self.iter_timer.value()
        parts = [
            self._epoch(engine),
            f"[{position}/{epoch_length}]:",
            f"ETA: {_duration(iteration_time * (epoch_length - position))}",
        ]
        if optimizer is not None:
            groups = optimizer.param_groups
            if len(groups) == 1:
                parts.append(f"lr: {groups[0]['lr']:.5f}")
            else:
                parts.append(" ".join(f"lr [g{index}]: {group['lr']:.5f}" for index, group in enumerate(groups)))
        if self.show_output and engine.state.output is not None:
            output = engine.state.output
            parts += _to_str_list(self.output_transform(output) if self.output_transform is not None else output)
        if self.state_attributes:
            attributes = {name: getattr(engine.state, name, None) for name in self.state_attributes}
            parts.append(" ".join(_to_str_list(attributes)))
        parts += [f"Iter time: {iteration_time:.4f} s", f"Data prep time: {self.data_timer.value():.4f} s"]
        if torch.cuda.is_available():
            parts.append(f"GPU Max Mem: {torch.cuda.max_memory_allocated() / _MIB:.0f} MB")
        self.logger.info(self.delimiter.join(part for part in parts if part))

    def log_epoch_started(self, engine: Engine[Any], name: str) -> None:
        """Log ``"{name}: start epoch [e/max_epochs]"``."""
        self.logger.info(f"{name}: start epoch [{engine.state.epoch}/{engine.state.max_epochs}]")

    def log_epoch_completed(self, engine: Engine[Any], name: str) -> None:
        """Log the epoch's total time and time per iteration."""
        seconds = engine.state.times.get(Events.EPOCH_COMPLETED.name) or 0.0
        epoch = self._epoch(engine) if (engine.state.max_epochs or 1) > 1 else ""
        per_iteration = seconds / (engine.state.epoch_length or 1)
        parts = [f"{name}: {epoch}", f"Total time: {_duration(seconds)}", f"({per_iteration:.4f} s / it)"]
        self.logger.info(self.delimiter.join(parts))

    def log_completed(self, engine: Engine[Any], name: str) -> None:
        """Log the run's total time (runs of more than one epoch)."""
        if (engine.state.max_epochs or 1) > 1:
            seconds = engine.state.times.get(Events.COMPLETED.name) or 0.0
            self.logger.info(self.delimiter.join([f"{name}: run completed", f"Total time: {_duration(seconds)}"]))
