"""The base of experiment loggers: a place that handlers write to, attached to engine events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from torch import nn
from torch.optim import Optimizer

from cadence.engine import Engine, EventsList, RemovableEventHandle
from cadence.loggers.base import BaseHandler, EventName
from cadence.loggers.scalars import GradsScalarHandler, OptimizerParamsHandler, OutputHandler

__all__ = ["BaseLogger"]


class BaseLogger:
    """A place to log to; attach handlers to engines to feed it. Closes on ``with`` exit.

    A logger of scalars implements :meth:`write_scalars` (and :meth:`close` when it holds files): the
    handlers of :mod:`cadence.loggers.scalars` then feed it. A logger with handlers of its own
    (as in Ignite) overrides ``_create_output_handler`` and ``_create_opt_params_handler`` instead.

    Example:
        >>> from cadence import Engine, Events
        >>> class PrintLogger(BaseLogger):
        ...     def write_scalars(self, scalars, step, event_name):
        ...         print(event_name, step, scalars)
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> with PrintLogger() as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.EPOCH_COMPLETED, tag="train",
        ...                                      output_transform=lambda out: {"loss": out})
        ...     _ = trainer.run([1, 2], max_epochs=2)
        epoch_completed 1 {'train/loss': 1.0}
        epoch_completed 2 {'train/loss': 1.0}
    """

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        """Write ``scalars`` (name to number) at ``step``; ``event_name`` is the event that logged them."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot take scalars: implement write_scalars(scalars, step, event_name), "
            "or override _create_output_handler and _create_opt_params_handler to give it handlers of its own."
        )

    def close(self) -> None:
        """Flush and release whatever the logger holds; further writes are errors."""

    def __enter__(self) -> BaseLogger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def attach(
        self,
        engine: Engine[Any],
        log_handler: Callable[..., Any],
        event_name: EventName | EventsList,
        *args: Any,
        **kwargs: Any,
    ) -> RemovableEventHandle:
        """Call ``log_handler(engine, self, event_name, *args, **kwargs)`` each time ``event_name`` fires on ``engine``.

        With ``Events.A | Events.B`` each event is attached on its own, so the handler knows which one
        fired; the returned handle removes them all.
        """
        if not isinstance(engine, Engine):
            raise TypeError(f"attach needs an Engine, got {type(engine).__name__}.")
        if not callable(log_handler):
            raise TypeError(
                f"log_handler must be callable as log_handler(engine, logger, event_name), got {log_handler!r}."
            )
        events: list[EventName] = list(event_name) if isinstance(event_name, EventsList) else [event_name]
        for event in events:
            if not engine.has_registered_events(event):
                raise RuntimeError(
                    f"Unknown event name {event!r}: use an event of Events or one registered with "
                    "engine.register_events(...)."
                )
        handles = [engine.add_event_handler(event, log_handler, self, event, *args, **kwargs) for event in events]
        return handles[0] if len(handles) == 1 else _HandleGroup(handles)

    def attach_output_handler(
        self, engine: Engine[Any], event_name: EventName | EventsList, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Log metrics, the transformed output and state attributes as ``{tag}/{name}``; the arguments after
        ``event_name`` are those of the logger's ``OutputHandler`` (``tag``, ``metric_names``,
        ``output_transform``, ``global_step_transform``, ``state_attributes``)."""
        return self.attach(engine, self._create_output_handler(*args, **kwargs), event_name)

    def attach_opt_params_handler(
        self, engine: Engine[Any], event_name: EventName | EventsList, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Log a parameter of each optimizer parameter group; the arguments after ``event_name`` are those
        of the logger's ``OptimizerParamsHandler`` (``optimizer``, ``param_name="lr"``, ``tag=None``)."""
        return self.attach(engine, self._create_opt_params_handler(*args, **kwargs), event_name)

    def attach_grad_norm_handler(
        self,
        engine: Engine[Any],
        event_name: EventName | EventsList,
        model: nn.Module,
        tag: str | None = None,
        whitelist: Sequence[str] | Callable[[str, nn.Parameter], bool] | None = None,
    ) -> RemovableEventHandle:
        """Log the norm of each parameter's gradient (see :class:`~cadence.loggers.scalars.GradsScalarHandler`)."""
        return self.attach(engine, GradsScalarHandler(model, tag=tag, whitelist=whitelist), event_name)

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> BaseHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, optimizer: Optimizer, *args: Any, **kwargs: Any) -> BaseHandler:
        return OptimizerParamsHandler(optimizer, *args, **kwargs)


class _HandleGroup(RemovableEventHandle):
    """One handle for several attachments (an ``EventsList`` attached event by event)."""

    def __init__(self, handles: list[RemovableEventHandle]) -> None:  # the group holds no records of its own
        self._handles = handles

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
