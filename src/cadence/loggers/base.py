"""One small base for experiment loggers, and the handlers that feed them scalars.

A logger only has to write a flat ``{name: number}`` mapping at a step (:meth:`BaseLogger.write_scalars`).
The handlers turn what an engine knows (metrics, output, optimizer parameters, gradients) into such
mappings, so every logger gets all of them.
"""

from __future__ import annotations

import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from cadence.engine import CallableEventWithFilter, Engine, EventsList, RemovableEventHandle

__all__ = [
    "BaseHandler",
    "BaseLogger",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
]

EventName = CallableEventWithFilter | str
GlobalStepTransform = Callable[[Engine[Any], EventName], int]


def event_label(event_name: EventName) -> str:
    """The plain name of an event as written in log files (``"iteration_completed"``).

    Example:
        >>> from cadence import Events
        >>> event_label(Events.EPOCH_COMPLETED(every=2))
        'epoch_completed'
    """
    return event_name.value if isinstance(event_name, CallableEventWithFilter) else str(event_name)


def _default_step(engine: Engine[Any], event_name: EventName) -> int:
    return engine.state.get_event_attrib_value(event_name)


def flatten_scalars(name: str, value: Any, into: dict[str, float]) -> bool:
    """Add ``value`` under ``name`` (``name/i`` or ``name/key`` for a vector or mapping); ``False`` if not numeric.

    Example:
        >>> scalars = {}
        >>> flatten_scalars("loss", {"total": 1.5, "parts": torch.tensor([0.5, 1.0])}, scalars), scalars
        (True, {'loss/total': 1.5, 'loss/parts/0': 0.5, 'loss/parts/1': 1.0})
    """
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            into[name] = float(value.item())
        elif value.ndim == 1:
            for index, item in enumerate(value.tolist()):
                into[f"{name}/{index}"] = float(item)
        else:
            return False
    elif isinstance(value, Mapping):
        return all([flatten_scalars(f"{name}/{key}", item, into) for key, item in value.items()])
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        into[name] = float(value)
    else:
        return False
    return True


class BaseLogger(ABC):
    """A place to write scalars; attach handlers to engines to feed it. Closes on ``with`` exit.

    Subclasses implement :meth:`write_scalars` (and :meth:`close` when they hold files).

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

    @abstractmethod
    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        """Write ``scalars`` (name to number) at ``step``; ``event_name`` is the event that logged them."""

    def close(self) -> None:  # noqa: B027  # optional: loggers without files need not override it
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
        log_handler: Callable[[Engine[Any], BaseLogger, EventName], None],
        event_name: EventName | EventsList,
    ) -> RemovableEventHandle:
        """Call ``log_handler(engine, self, event_name)`` each time ``event_name`` fires on ``engine``.

        With ``Events.A | Events.B`` each event is attached on its own, so the handler knows which one fired.
        """
        if not isinstance(engine, Engine):
            raise TypeError(f"attach needs an Engine, got {type(engine).__name__}.")
        if not callable(log_handler):
            raise TypeError(
                f"log_handler must be callable as log_handler(engine, logger, event_name), got {log_handler!r}."
            )
        events: list[EventName] = list(event_name) if isinstance(event_name, EventsList) else [event_name]
        handles = [engine.add_event_handler(event, log_handler, self, event) for event in events]
        return handles[0] if len(handles) == 1 else _HandleGroup(handles)

    def attach_output_handler(
        self,
        engine: Engine[Any],
        event_name: EventName | EventsList,
        tag: str,
        output_transform: Callable[[Any], Any] | None = None,
        metric_names: str | list[str] | None = None,
        global_step_transform: GlobalStepTransform | None = None,
        state_attributes: list[str] | None = None,
    ) -> RemovableEventHandle:
        """Log metrics, the transformed output and state attributes as ``{tag}/{name}`` (see :class:`OutputHandler`)."""
        handler = OutputHandler(
            tag,
            metric_names=metric_names,
            output_transform=output_transform,
            global_step_transform=global_step_transform,
            state_attributes=state_attributes,
        )
        return self.attach(engine, handler, event_name)

    def attach_opt_params_handler(
        self,
        engine: Engine[Any],
        event_name: EventName | EventsList,
        optimizer: Optimizer,
        param_name: str = "lr",
        tag: str | None = None,
    ) -> RemovableEventHandle:
        """Log ``param_name`` of each optimizer parameter group (see :class:`OptimizerParamsHandler`)."""
        return self.attach(engine, OptimizerParamsHandler(optimizer, param_name, tag), event_name)

    def attach_grad_norm_handler(
        self,
        engine: Engine[Any],
        event_name: EventName | EventsList,
        model: nn.Module,
        tag: str | None = None,
        whitelist: Sequence[str] | Callable[[str, nn.Parameter], bool] | None = None,
    ) -> RemovableEventHandle:
        """Log the norm of each parameter's gradient (see :class:`GradsScalarHandler`)."""
        return self.attach(engine, GradsScalarHandler(model, tag=tag, whitelist=whitelist), event_name)


class _HandleGroup(RemovableEventHandle):
    """One handle for several attachments (an ``EventsList`` attached event by event)."""

    def __init__(self, handles: list[RemovableEventHandle]) -> None:  # the group holds no records of its own
        self._handles = handles

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


class BaseHandler(ABC):
    """A log handler: called as ``handler(engine, logger, event_name)`` by :meth:`BaseLogger.attach`.

    Example:
        >>> class EpochHandler(BaseHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         logger.write_scalars({"epoch": engine.state.epoch}, engine.state.epoch, event_label(event_name))
        >>> issubclass(EpochHandler, BaseHandler)
        True
    """

    @abstractmethod
    def __call__(self, engine: Engine[Any], logger: BaseLogger, event_name: EventName) -> None: ...


def _names(value: object, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{what} must be a list of names, got {value!r}.")


class OutputHandler(BaseHandler):
    """Log ``engine.state.metrics``, the transformed output and state attributes, each as ``{tag}/{name}``.

    Args:
        tag: prefix of every name, e.g. ``"training"`` or ``"validation"``.
        metric_names: ``"all"`` or the metric names to log.
        output_transform: maps ``engine.state.output`` to a number (logged as ``{tag}/output``) or a dict.
        global_step_transform: ``fn(engine, event_name) -> int``, the step to log at (default: the
            engine's own counter for the event; use ``global_step_from_engine(trainer)`` for an evaluator).
        state_attributes: names of ``engine.state`` attributes to log.

    Tensors with one element become numbers, vectors become ``name/0``, ``name/1``...; other values are
    skipped with a warning.

    Example:
        >>> handler = OutputHandler("training", output_transform=lambda loss: {"loss": loss})
        >>> handler.tag, handler.metric_names
        ('training', None)
    """

    def __init__(
        self,
        tag: str,
        metric_names: str | list[str] | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        global_step_transform: GlobalStepTransform | None = None,
        state_attributes: list[str] | None = None,
    ) -> None:
        if not isinstance(tag, str):
            raise TypeError(f"tag must be a string, got {tag!r}.")
        if metric_names != "all":
            metric_names = _names(metric_names, "metric_names (or 'all')")
        if metric_names is None and output_transform is None and state_attributes is None:
            raise ValueError("OutputHandler logs nothing: give metric_names, output_transform or state_attributes.")
        for name, fn in (("output_transform", output_transform), ("global_step_transform", global_step_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {fn!r}.")
        self.tag = tag
        self.metric_names = metric_names
        self.output_transform = output_transform
        self.global_step_transform = global_step_transform or _default_step
        self.state_attributes = _names(state_attributes, "state_attributes")
        self._warned: set[str] = set()

    def _add(self, name: str, value: Any, scalars: dict[str, float]) -> None:
        if not flatten_scalars(f"{self.tag}/{name}", value, scalars) and name not in self._warned:
            self._warned.add(name)
            warnings.warn(f"OutputHandler cannot log {name!r}: {type(value).__name__} is not a number.", stacklevel=3)

    def __call__(self, engine: Engine[Any], logger: BaseLogger, event_name: EventName) -> None:
        scalars: dict[str, float] = {}
        metrics = engine.state.metrics
        names = list(metrics) if self.metric_names == "all" else self.metric_names or []
        for name in names:
            if name not in metrics:
                if name not in self._warned:
                    self._warned.add(name)
                    warnings.warn(
                        f"Metric {name!r} is not in engine.state.metrics (has {sorted(metrics)}).", stacklevel=2
                    )
                continue
            self._add(name, metrics[name], scalars)
        if self.output_transform is not None:
            output = self.output_transform(engine.state.output)
            items = output.items() if isinstance(output, Mapping) else [("output", output)]
            for key, value in items:
                self._add(str(key), value, scalars)
        for attribute in self.state_attributes or []:
            self._add(attribute, getattr(engine.state, attribute, None), scalars)
        step = self.global_step_transform(engine, event_name)
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"global_step_transform must return an int, got {step!r}.")
        logger.write_scalars(scalars, step, event_label(event_name))


class OptimizerParamsHandler(BaseHandler):
    """Log ``param_name`` of every parameter group as ``[{tag}/]{param_name}/group_{i}``.

    Example:
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer, tag="training").param_name
        'lr'
    """

    def __init__(self, optimizer: Optimizer, param_name: str = "lr", tag: str | None = None) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}.")
        for index, group in enumerate(optimizer.param_groups):
            if param_name not in group:
                raise ValueError(f"Parameter group {index} of the optimizer has no {param_name!r}.")
        self.optimizer = optimizer
        self.param_name = param_name
        self.prefix = f"{tag}/" if tag else ""

    def __call__(self, engine: Engine[Any], logger: BaseLogger, event_name: EventName) -> None:
        scalars = {
            f"{self.prefix}{self.param_name}/group_{index}": float(group[self.param_name])
            for index, group in enumerate(self.optimizer.param_groups)
        }
        logger.write_scalars(scalars, _default_step(engine, event_name), event_label(event_name))


class GradsScalarHandler(BaseHandler):
    """Log ``reduction(grad)`` (default: the norm) of each parameter's gradient as
    ``[{tag}/]grads_{reduction}/{parameter/name}``. Parameters without a gradient are skipped.

    Args:
        model: the model whose gradients are logged.
        reduction: turns a gradient tensor into a scalar (tensor or number).
        tag: optional prefix.
        whitelist: parameter names (or name prefixes such as a submodule's name) to log, or
            ``fn(name, parameter) -> bool``; default: all.

    Example:
        >>> handler = GradsScalarHandler(torch.nn.Linear(2, 1), tag="training")
        >>> handler.prefix
        'training/grads_norm/'
    """

    def __init__(
        self,
        model: nn.Module,
        reduction: Callable[[torch.Tensor], torch.Tensor | float] = torch.norm,
        tag: str | None = None,
        whitelist: Sequence[str] | Callable[[str, nn.Parameter], bool] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if not callable(reduction):
            raise TypeError(f"reduction must be callable, got {reduction!r}.")
        if whitelist is not None and not callable(whitelist):
            whitelist = _names(whitelist, "whitelist")
        self.model = model
        self.reduction = reduction
        self.whitelist = whitelist
        self.prefix = f"{tag + '/' if tag else ''}grads_{getattr(reduction, '__name__', 'reduction')}/"

    def _wanted(self, name: str, parameter: nn.Parameter) -> bool:
        if self.whitelist is None:
            return True
        if callable(self.whitelist):
            return bool(self.whitelist(name, parameter))
        return any(name == item or name.startswith(f"{item}.") for item in self.whitelist)

    def __call__(self, engine: Engine[Any], logger: BaseLogger, event_name: EventName) -> None:
        names: list[str] = []
        values: list[torch.Tensor] = []
        for name, parameter in self.model.named_parameters():
            if parameter.grad is not None and self._wanted(name, parameter):
                names.append(f"{self.prefix}{name.replace('.', '/')}")
                values.append(torch.as_tensor(self.reduction(parameter.grad.detach())).float().reshape(()))
        device = values[0].device if values else None
        results = torch.stack([v.to(device) for v in values]).tolist() if values else []  # one sync for all
        scalars = dict(zip(names, results, strict=True))
        logger.write_scalars(scalars, _default_step(engine, event_name), event_label(event_name))
