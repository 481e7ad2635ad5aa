"""Bases of the log handlers: what to log (output and metrics, optimizer parameters, model weights or
gradients) gathered as flat ``{name: number}`` mappings. Each logger's handlers add only where it goes.

These are also Ignite's ``ignite.handlers.base_logger`` bases, with the same constructors and checks.
"""

from __future__ import annotations

import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from cadence.engine import CallableEventWithFilter, Engine

__all__ = [
    "BaseHandler",
    "BaseOptimizerParamsHandler",
    "BaseOutputHandler",
    "BaseWeightsHandler",
    "BaseWeightsScalarHandler",
    "event_label",
    "flatten_scalars",
    "global_step_from_engine",
]

EventName = CallableEventWithFilter | str
GlobalStepTransform = Callable[[Engine[Any], EventName], int]
Whitelist = Sequence[str] | Callable[[str, nn.Parameter], bool]


def event_label(event_name: EventName) -> str:
    """The plain name of an event as written in log files (``"iteration_completed"``).

    Example:
        >>> from cadence import Events
        >>> event_label(Events.EPOCH_COMPLETED(every=2))
        'epoch_completed'
    """
    return event_name.value if isinstance(event_name, CallableEventWithFilter) else str(event_name)


def default_global_step(engine: Engine[Any], event_name: EventName) -> int:
    """The engine's own counter for ``event_name``: the iteration for iteration events, else the epoch.

    Example:
        >>> from cadence import Events
        >>> engine = Engine(lambda e, b: None)
        >>> _ = engine.run([0, 0], max_epochs=3)
        >>> default_global_step(engine, Events.ITERATION_COMPLETED), default_global_step(engine, Events.COMPLETED)
        (6, 3)
    """
    return engine.state.get_event_attrib_value(event_name)


def global_step_from_engine(
    engine: Engine[Any], custom_event_name: EventName | None = None, fallback_attr: str = "epoch"
) -> Callable[[Engine[Any], Any], int]:
    """Return a ``global_step_transform`` that takes the step from another engine's counter (e.g. name
    an evaluator's checkpoints by the trainer's epoch).

    Args:
        engine: the engine whose counter is read (the trainer).
        custom_event_name: read the counter of this event instead of the one the handler fires on.
        fallback_attr: the ``engine.state`` attribute read for an event without a counter.

    Example:
        >>> from cadence import Events
        >>> trainer = Engine(lambda e, b: None)
        >>> _ = trainer.run([0, 0], max_epochs=3)
        >>> global_step_from_engine(trainer)(None, Events.EPOCH_COMPLETED)
        3
        >>> global_step_from_engine(trainer, Events.ITERATION_COMPLETED)(None, Events.EPOCH_COMPLETED)
        6
    """
    if not isinstance(fallback_attr, str):
        raise TypeError(f"fallback_attr must be the name of an engine.state attribute, got {fallback_attr!r}.")

    def transform(_: Any, event: EventName | None) -> int:
        if custom_event_name is not None:
            event = custom_event_name
        key = event.value if isinstance(event, CallableEventWithFilter) else event
        if key is None or key not in engine.state.event_to_attr:
            value: int = getattr(engine.state, fallback_attr)
            return value
        return engine.state.get_event_attrib_value(key)

    return transform


def flatten_scalars(name: str, value: Any, into: dict[str, float]) -> bool:
    """Add the numbers in ``value`` under ``name``; ``False`` if some part of it is not a number (skipped).

    A mapping adds ``name/key``, a list, tuple or 1-D tensor adds ``name/0``, ``name/1``...; a number or
    a 0-D tensor is the value itself. Strings and tensors of more dimensions are not numbers.

    Example:
        >>> scalars = {}
        >>> flatten_scalars("loss", {"total": 1.5, "parts": torch.tensor([0.5, 1.0])}, scalars), scalars
        (True, {'loss/total': 1.5, 'loss/parts/0': 0.5, 'loss/parts/1': 1.0})
    """
    if isinstance(value, torch.Tensor):
        if value.ndim == 0:
            into[name] = float(value.item())
            return True
        if value.ndim == 1:
            for index, item in enumerate(value.tolist()):
                into[f"{name}/{index}"] = float(item)
            return True
        return False
    if isinstance(value, numbers.Real):
        into[name] = float(value)
        return True
    if isinstance(value, Mapping):
        return all([flatten_scalars(f"{name}/{key}", item, into) for key, item in value.items()])
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return all([flatten_scalars(f"{name}/{index}", item, into) for index, item in enumerate(value)])
    return False


class BaseHandler(ABC):
    """A log handler, called as ``handler(engine, logger, event_name)`` by :meth:`BaseLogger.attach`.

    Example:
        >>> class EpochHandler(BaseHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         logger.write_scalars({"epoch": engine.state.epoch}, engine.state.epoch, event_label(event_name))
        >>> issubclass(EpochHandler, BaseHandler)
        True
    """

    @abstractmethod
    def __call__(self, engine: Engine[Any], logger: Any, event_name: EventName) -> None: ...


def _callable_or_none(name: str, fn: object) -> None:
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} should be a function, got {type(fn).__name__} instead.")


class BaseOutputHandler(BaseHandler):
    """Base of the handlers that log ``engine.state.metrics``, the transformed output and state attributes,
    each as ``{tag}/{name}``.

    Args:
        tag: prefix of every name, e.g. ``"training"`` or ``"validation"``.
        metric_names: ``"all"`` or a list of the metric names to log.
        output_transform: maps ``engine.state.output`` to a number (logged as ``{tag}/output``) or a dict.
        global_step_transform: ``fn(engine, event_name) -> int``, the step to log at (default: the
            engine's own counter for the event; use ``global_step_from_engine(trainer)`` for an evaluator).
        state_attributes: names of ``engine.state`` attributes to log.

    Values are flattened by :func:`flatten_scalars`; a value that is not a number is skipped with a
    warning (once per name).

    Example:
        >>> class PrintOutput(BaseOutputHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         print(self.global_step(engine, event_name), self.collect(engine))
        >>> from cadence import Events
        >>> engine = Engine(lambda e, b: b * 0.5)
        >>> _ = engine.run([1, 2, 3])
        >>> PrintOutput("train", output_transform=lambda out: {"loss": out})(engine, None, Events.COMPLETED)
        1 {'train/loss': 1.5}
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
        if metric_names is not None and metric_names != "all" and not _is_names(metric_names):
            raise TypeError(f"metric_names should be either a list or equal 'all', got {metric_names!r} instead.")
        _callable_or_none("output_transform", output_transform)
        if metric_names is None and output_transform is None and state_attributes is None:
            raise ValueError("Either metric_names, output_transform or state_attributes should be defined.")
        _callable_or_none("global_step_transform", global_step_transform)
        if state_attributes is not None and not _is_names(state_attributes):
            raise TypeError(f"state_attributes should be a list of names, got {state_attributes!r} instead.")
        self.tag = tag
        self.metric_names = metric_names if isinstance(metric_names, str | None) else list(metric_names)
        self.output_transform = output_transform
        self.global_step_transform: GlobalStepTransform = global_step_transform or default_global_step
        self.state_attributes = None if state_attributes is None else list(state_attributes)
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, UserWarning, stacklevel=4)

    def _add(self, name: str, value: Any, scalars: dict[str, float]) -> None:
        if not flatten_scalars(f"{self.tag}/{name}", value, scalars):
            self._warn_once(name, f"Logger output handler cannot log {name!r}: {type(value).__name__} is not a number.")

    def collect(self, engine: Engine[Any]) -> dict[str, float]:
        """The metrics, transformed output and state attributes of ``engine`` as ``{tag/name: number}``."""
        scalars: dict[str, float] = {}
        metrics = engine.state.metrics
        names = list(metrics) if self.metric_names == "all" else self.metric_names or []
        for name in names:
            if name in metrics:
                self._add(name, metrics[name], scalars)
            else:
                self._warn_once(
                    name, f"Provided metric name {name!r} is missing in engine's state metrics: {list(metrics)}."
                )
        if self.output_transform is not None:
            output = self.output_transform(engine.state.output)
            items = output.items() if isinstance(output, Mapping) else [("output", output)]
            for key, value in items:
                self._add(str(key), value, scalars)
        for attribute in self.state_attributes or []:
            self._add(attribute, getattr(engine.state, attribute, None), scalars)
        return scalars

    def global_step(self, engine: Engine[Any], event_name: EventName) -> int:
        """The step to log at, from ``global_step_transform``; a ``TypeError`` if that is not an int."""
        step = self.global_step_transform(engine, event_name)
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(
                f"global_step must be int, got {type(step).__name__} ({step!r}). "
                "Please check the output of global_step_transform."
            )
        return step


def _is_names(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


class BaseOptimizerParamsHandler(BaseHandler):
    """Base of the handlers that log ``param_name`` of every parameter group as ``[{tag}/]{param_name}/group_{i}``.

    ``optimizer`` is a ``torch.optim.Optimizer``, or any object with a ``param_groups`` list (DeepSpeed's
    wrapped optimizers, for example).

    Example:
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> class PrintParams(BaseOptimizerParamsHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         print(self.collect())
        >>> PrintParams(optimizer, tag="training")(None, None, "started")
        {'training/lr/group_0': 0.1}
    """

    def __init__(self, optimizer: Optimizer, param_name: str = "lr", tag: str | None = None) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(optimizer, Optimizer) and not isinstance(groups, Sequence):
            raise TypeError(
                "Argument optimizer should be torch.optim.Optimizer or have a 'param_groups' list, "
                f"got {type(optimizer).__name__}."
            )
        if isinstance(groups, Sequence):
            for index, group in enumerate(groups):
                if isinstance(group, Mapping) and param_name not in group:
                    raise ValueError(f"Parameter group {index} of the optimizer has no {param_name!r}.")
        self.optimizer = optimizer
        self.param_name = param_name
        self.tag = tag

    def collect(self) -> dict[str, float]:
        """``{[tag/]param_name/group_i: value}`` for every parameter group, now."""
        prefix = f"{self.tag}/" if self.tag else ""
        return {
            f"{prefix}{self.param_name}/group_{index}": float(group[self.param_name])
            for index, group in enumerate(self.optimizer.param_groups)
        }


def _select(model: nn.Module, whitelist: Whitelist | None) -> tuple[tuple[str, nn.Parameter], ...]:
    named = list(model.named_parameters())
    if whitelist is None:
        return tuple(named)
    if callable(whitelist):
        return tuple((name, p) for name, p in named if whitelist(name, p))
    return tuple(
        (name, p) for name, p in named if any(name == item or name.startswith(f"{item}.") for item in whitelist)
    )


class BaseWeightsHandler(BaseHandler):
    """Base of the handlers that log a model's weights or gradients, parameter by parameter.

    Args:
        model: the model.
        tag: optional prefix of every name.
        whitelist: the parameters to log: parameter names or submodule names (``"fc1"`` selects
            ``fc1.weight`` and ``fc1.bias``), or ``fn(name, parameter) -> bool``; default: all.

    ``weights`` holds the selected ``(name, parameter)`` pairs.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> class PrintNames(BaseWeightsHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         print([name for name, _ in self.weights])
        >>> PrintNames(model, whitelist=["1"])(None, None, "started")
        ['1.weight', '1.bias']
    """

    def __init__(self, model: nn.Module, tag: str | None = None, whitelist: Whitelist | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"Argument model should be of type torch.nn.Module, got {type(model).__name__}.")
        if whitelist is not None and not callable(whitelist) and not _is_names(whitelist):
            raise TypeError(f"whitelist must be a list of names or fn(name, parameter) -> bool, got {whitelist!r}.")
        self.model = model
        self.tag = tag
        self.whitelist = whitelist
        self.weights = _select(model, whitelist)


class BaseWeightsScalarHandler(BaseWeightsHandler):
    """Base of the handlers that log ``reduction(tensor)`` (default: the norm) of each weight or gradient.

    ``reduction`` must turn a tensor into a number or a 0-D tensor; it is tried once at construction.

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> class PrintNorms(BaseWeightsScalarHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         print(sorted(self.reduce("weights", ((n, torch.ones(4)) for n, _ in self.weights)).items()))
        >>> PrintNorms(model)(None, None, "started")
        [('weights_norm/bias', 2.0), ('weights_norm/weight', 2.0)]
    """

    def __init__(
        self,
        model: nn.Module,
        reduction: Callable[[torch.Tensor], float | torch.Tensor] = torch.norm,
        tag: str | None = None,
        whitelist: Whitelist | None = None,
    ) -> None:
        super().__init__(model, tag=tag, whitelist=whitelist)
        if not callable(reduction):
            raise TypeError(f"Argument reduction should be callable, got {type(reduction).__name__}.")
        sample = reduction(torch.ones(4, 2))
        if not (isinstance(sample, numbers.Number) or (isinstance(sample, torch.Tensor) and sample.ndim == 0)):
            raise TypeError(f"Output of the reduction function should be a scalar, got {type(sample).__name__}.")
        self.reduction = reduction

    def reduce(self, kind: str, tensors: Iterable[tuple[str, torch.Tensor]]) -> dict[str, float]:
        """``{[tag/]{kind}_{reduction}/{parameter/name}: reduction(tensor)}``, read back in one device sync."""
        prefix = f"{self.tag + '/' if self.tag else ''}{kind}_{getattr(self.reduction, '__name__', 'reduction')}/"
        names: list[str] = []
        values: list[torch.Tensor] = []
        for name, tensor in tensors:
            names.append(prefix + name.replace(".", "/"))
            values.append(torch.as_tensor(self.reduction(tensor)).detach().float().reshape(()))
        if not values:
            return {}
        device = values[0].device
        return dict(zip(names, torch.stack([v.to(device) for v in values]).tolist(), strict=True))
