"""The :class:`Metric` base class: attaching to an engine, and arithmetic on metrics (a :class:`MetricsLambda`).

The ``reset``/``update``/``compute`` contract and the saved state are :class:`MetricBase`'s.
"""

from __future__ import annotations

import enum
import itertools
import operator
import traceback
import weakref
from collections.abc import Callable, Iterator, Mapping
from numbers import Number
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from cadence.engine import Engine, EpochResumable, Events
from cadence.exceptions import NotComputableError as NotComputableError
from cadence.metrics._base import MetricBase, reduced
from cadence.metrics.decorators import reinit__is_reduced as reinit__is_reduced  # Ignite's path has them
from cadence.metrics.decorators import sync_all_reduce as sync_all_reduce
from cadence.metrics.usage import (
    BatchFiltered,
    BatchWise,
    EpochWise,
    MetricUsage,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
    to_usage,
)

__all__ = [
    "BatchFiltered",
    "BatchWise",
    "EpochWise",
    "Metric",
    "MetricBase",
    "MetricUsage",
    "MetricsLambda",
    "MetricsResultMode",
    "RunningBatchWise",
    "RunningEpochWise",
    "SingleEpochRunningBatchWise",
    "identity",
    "reduced",
]


def identity(output: Any) -> Any:
    """The default ``output_transform``: the engine's output as it is.

    Example:
        >>> identity((1, 2))
        (1, 2)
    """
    return output


class MetricsResultMode(str, enum.Enum):
    """Where :meth:`Metric.completed` writes a result that is a mapping, in ``engine.state.metrics``.

    ``FLATTEN``: each item under its own key; ``NAMED``: the whole mapping under the metric's name;
    ``BOTH`` (the default): both. Ignite's strings ``"flatten"``, ``"named"``, ``"both"`` are accepted too.

    Example:
        >>> MetricsResultMode("named") is MetricsResultMode.NAMED
        True
    """

    FLATTEN = "flatten"
    NAMED = "named"
    BOTH = "both"


def _result_mode(value: MetricsResultMode | str) -> MetricsResultMode:
    try:
        return MetricsResultMode(value)
    except ValueError:
        choices = tuple(mode.value for mode in MetricsResultMode)
        raise ValueError(f"Argument metrics_result_mode should be one of {choices}, got {value!r}.") from None


def _batched(item: Any, device: torch.device | None = None) -> torch.Tensor:
    return item.unsqueeze(0) if isinstance(item, torch.Tensor) else torch.tensor([item], device=device)


def _is_items(part: Any) -> bool:
    return isinstance(part, list | tuple) and all(isinstance(x, torch.Tensor | Number) for x in part)


def _is_unrollable(output: Any) -> bool:
    """A sequence of lists of tensors or numbers, ``([y_pred, ...], [y, ...])``: one update per item (Ignite's
    unrolling). It must be a pair of equally long lists; anything else of that form is refused."""
    return isinstance(output, tuple | list) and len(output) > 0 and all(_is_items(part) for part in output)


class Metric(MetricBase, EpochResumable):
    """Base class of metrics: accumulate with :meth:`update`, read with :meth:`compute`, start over with :meth:`reset`.

    Attached to an engine, a metric resets, updates from ``output_transform(engine.state.output)`` and
    writes its value to ``engine.state.metrics[name]`` on the events of its :class:`MetricUsage`.
    Subclasses name their accumulators in ``_state_names`` so that :meth:`state_dict` can save them
    (Ignite's ``_state_dict_all_req_keys`` is read too: numbers, tensors, metrics, and lists or dicts of them).

    Args:
        output_transform: maps the engine's output to what :meth:`update` takes (default: unchanged).
            A mapping output is read at the keys ``required_output_keys`` (``("y_pred", "y")``).
        device: where accumulators live.
        skip_unrolling: don't split a pair of lists ``([y_pred, ...], [y, ...])`` into one update per item.
        metrics_result_mode: where a mapping result goes in ``engine.state.metrics``
            (a :class:`MetricsResultMode`; ``"both"`` by default).

    A metric written for Ignite (``@reinit__is_reduced`` on ``reset``/``update``, ``@sync_all_reduce(...)``
    on ``compute``) runs unchanged. An unknown public attribute gives a :class:`MetricsLambda` of the
    computed value's method, as in Ignite: ``metric.norm(p=2)``, ``(a + b).sum()``.

    Example:
        >>> class Count(Metric):
        ...     _state_names = ("_count",)
        ...     def reset(self):
        ...         self._count = 0
        ...     def update(self, output):
        ...         self._count += len(output)
        ...     def compute(self):
        ...         return self._count
        >>> engine = Engine(lambda engine, batch: batch)
        >>> Count().attach(engine, "count")
        >>> engine.run([[1, 2], [3]]).metrics
        {'count': 3}
    """

    required_output_keys: ClassVar[tuple[str, ...] | None] = ("y_pred", "y")
    _optional_output_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        metrics_result_mode: MetricsResultMode | str = MetricsResultMode.BOTH,
    ) -> None:
        self._setup(output_transform, device, skip_unrolling, metrics_result_mode)
        self.reset()

    def _setup(
        self,
        output_transform: Callable[[Any], Any],
        device: str | torch.device,
        skip_unrolling: bool,
        metrics_result_mode: MetricsResultMode | str = MetricsResultMode.BOTH,
    ) -> None:
        if not callable(output_transform):
            raise TypeError(
                f"Argument output_transform should be callable, got {type(output_transform).__name__}: "
                f"{output_transform!r:.100}."
            )
        self._output_transform = output_transform
        self._device = torch.device(device)
        if self._device.type == "xla":
            raise ValueError("Cannot create metric on an XLA device. Use device='cpu' instead.")
        self._skip_unrolling = skip_unrolling
        self._metrics_result_mode = _result_mode(metrics_result_mode)
        self._restored = False
        self._reset_event: Any = None

    # ------------------------------------------------------------------ engine handlers
    def started(self, engine: Engine[Any]) -> None:
        """Reset, except for the first reset after :meth:`load_state_dict` mid-way (a run that continues an
        epoch begun earlier calls :meth:`resume_epoch` instead)."""
        if self._restored:
            self._restored = False
            if self._resumes_mid_way(engine):
                return
        self.reset()

    def resume_epoch(self, engine: Engine[Any]) -> None:
        """Called by the engine instead of :meth:`started` when a run continues an epoch begun earlier (after
        an exception or ``terminate()``, see :class:`~cadence.engine.EpochResumable`): the metric keeps
        what it accumulated in that epoch.

        Example:
            >>> from cadence import Engine, Events
            >>> from cadence.metrics import Average
            >>> engine = Engine(lambda engine, batch: batch)
            >>> Average().attach(engine, "mean")
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
            >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: print(e.state.metrics["mean"]))
            >>> _ = engine.run([1.0, 2.0, 3.0, 6.0], max_epochs=2)  # stops after two batches of epoch 1
            >>> _ = engine.run([1.0, 2.0, 3.0, 6.0], max_epochs=2)  # epoch 1: the mean of its four batches
            3.0
            3.0
        """
        self._restored = False

    def _resumes_mid_way(self, engine: Engine[Any]) -> bool:
        state = engine.state
        if self._reset_event == Events.STARTED:
            return state.iteration > 0
        if self._reset_event == Events.EPOCH_STARTED:
            return state.iteration > (state.epoch - 1) * (state.epoch_length or 0)
        return False

    @torch.no_grad()
    def iteration_completed(self, engine: Engine[Any]) -> None:
        """Update with ``output_transform(engine.state.output)`` (without recording gradients)."""
        output = self._output_transform(engine.state.output)
        if isinstance(output, Mapping):
            output = self._pick_required(output)
        if not self._skip_unrolling and _is_unrollable(output):
            if len(output) != 2 or len(output[0]) != len(output[1]):
                sizes = ", ".join(str(len(part)) for part in output)
                raise ValueError(
                    f"Output should have 2 items of the same length ([y_pred, ...], [y, ...]) to be unrolled "
                    f"into one update per item, got {len(output)} items of lengths {sizes}."
                )
            for y_pred, y in zip(output[0], output[1], strict=True):
                batched = _batched(y_pred)
                self.update((batched, _batched(y, batched.device)))
            return
        self.update(output)

    def _pick_required(self, output: Mapping[Any, Any]) -> Any:
        keys = self.required_output_keys
        if keys is None:
            raise TypeError(
                f"Transformed engine output for {type(self).__name__} metric should be a tuple/list, but given "
                f"{type(output).__name__} with keys {list(output)}; give an output_transform that returns what "
                "update() takes."
            )
        missing = [k for k in keys if k not in output and k not in self._optional_output_keys]
        if missing:
            raise ValueError(
                f"When transformed engine's output is a mapping, it should contain {tuple(keys)} keys, but given "
                f"{list(output)} ({missing} missing)."
            )
        return tuple(output[k] for k in keys if k in output)

    def completed(self, engine: Engine[Any], name: str) -> None:
        """Compute and write the value to ``engine.state.metrics[name]``.

        A 0-d tensor is written as a Python number, a tensor on another device is moved to the CPU. A mapping
        is written as its ``metrics_result_mode`` says: item by item under its own keys, whole under ``name``,
        or both (a key equal to ``name`` is then refused).
        """
        result = self.compute()
        metrics = engine.state.metrics
        if not isinstance(result, Mapping):
            metrics[name] = _publishable(result)
            return
        mode = self._metrics_result_mode
        if mode is not MetricsResultMode.FLATTEN and name in result:
            raise ValueError(
                f"Argument name '{name}' is conflicting with mapping keys: {list(result)}; attach the metric "
                "under another name."
            )
        if mode is not MetricsResultMode.NAMED:
            for key, value in result.items():
                metrics[key] = _publishable(value)
        if mode is not MetricsResultMode.FLATTEN:
            metrics[name] = result

    # ------------------------------------------------------------------ attaching
    def attach(self, engine: Engine[Any], name: str, usage: MetricUsage | str = "epoch_wise") -> None:
        """Reset, update and publish this metric as ``engine.state.metrics[name]`` on the events of ``usage``.

        Example:
            >>> from cadence.metrics import Average
            >>> engine = Engine(lambda engine, batch: batch)
            >>> Average().attach(engine, "mean", usage="running_batch_wise")
            >>> engine.run([1.0, 3.0]).metrics["mean"]
            2.0
        """
        usage = self._check_attach(engine, name, usage)
        self._reset_event = usage.STARTED
        if not engine.has_event_handler(self.started, usage.STARTED):
            engine.add_event_handler(usage.STARTED, self.started)
        if not engine.has_event_handler(self.iteration_completed, usage.ITERATION_COMPLETED):
            engine.add_event_handler(usage.ITERATION_COMPLETED, self.iteration_completed)
        engine.add_event_handler(usage.COMPLETED, self.completed, name)

    @staticmethod
    def _check_attach(engine: Engine[Any], name: str, usage: MetricUsage | str) -> MetricUsage:
        if not isinstance(engine, Engine):
            raise TypeError(f"attach() needs a cadence Engine, got {type(engine).__name__}.")
        if not isinstance(name, str) or not name:
            raise ValueError(f"A metric's name must be a non-empty string, got {name!r}.")
        return to_usage(usage)

    def detach(self, engine: Engine[Any], usage: MetricUsage | str = "epoch_wise") -> None:
        """Remove this metric's handlers for ``usage`` from ``engine`` (nothing happens if it is not attached).

        Example:
            >>> from cadence.metrics import Average
            >>> engine, mean = Engine(lambda engine, batch: batch), Average()
            >>> mean.attach(engine, "mean")
            >>> mean.detach(engine)
            >>> mean.is_attached(engine), engine.run([1.0]).metrics
            (False, {})
        """
        usage = to_usage(usage)
        for handler, event in (
            (self.completed, usage.COMPLETED),
            (self.started, usage.STARTED),
            (self.iteration_completed, usage.ITERATION_COMPLETED),
        ):
            if engine.has_event_handler(handler, event):
                engine.remove_event_handler(handler, event)

    def is_attached(self, engine: Engine[Any], usage: MetricUsage | str = "epoch_wise") -> bool:
        """Whether this metric publishes its value on ``engine`` with ``usage``."""
        return engine.has_event_handler(self.completed, to_usage(usage).COMPLETED)

    # ------------------------------------------------------------------ arithmetic: lazily computed MetricsLambda
    def _lambda(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> MetricsLambda:
        return MetricsLambda(fn, *args, **kwargs)

    def __add__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.add, self, other)

    def __radd__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.add, other, self)

    def __sub__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.sub, self, other)

    def __rsub__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.sub, other, self)

    def __mul__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.mul, self, other)

    def __rmul__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.mul, other, self)

    def __truediv__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.truediv, self, other)

    def __rtruediv__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.truediv, other, self)

    def __floordiv__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.floordiv, self, other)

    def __mod__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.mod, self, other)

    def __pow__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.pow, self, other)

    def __rpow__(self, other: Any) -> MetricsLambda:
        return self._lambda(operator.pow, other, self)

    def __neg__(self) -> MetricsLambda:
        return self._lambda(operator.neg, self)

    def __abs__(self) -> MetricsLambda:
        return self._lambda(abs, self)

    def __getitem__(self, index: Any) -> MetricsLambda:
        return self._lambda(operator.getitem, self, index)

    def mean(self) -> MetricsLambda:
        """A metric whose value is ``self.compute().mean()``."""
        return self._lambda(_call_method, self, "mean")

    def sum(self) -> MetricsLambda:
        """A metric whose value is ``self.compute().sum()``."""
        return self._lambda(_call_method, self, "sum")

    def max(self) -> MetricsLambda:
        """A metric whose value is ``self.compute().max()``."""
        return self._lambda(_call_method, self, "max")

    def min(self) -> MetricsLambda:
        """A metric whose value is ``self.compute().min()``."""
        return self._lambda(_call_method, self, "min")

    def sqrt(self) -> MetricsLambda:
        """A metric whose value is ``self.compute().sqrt()``."""
        return self._lambda(_call_method, self, "sqrt")

    def item(self) -> MetricsLambda:
        """A metric whose value is ``self.compute().item()``."""
        return self._lambda(_call_method, self, "item")

    if not TYPE_CHECKING:  # to mypy, an attribute typo on a metric stays an error

        def __getattr__(self, name: str) -> Callable[..., MetricsLambda]:
            """``metric.norm(p=2)``: a :class:`MetricsLambda` calling that method of the computed value.

            Only public names are forwarded: a missing private or special attribute is an ``AttributeError``.
            """
            if name.startswith("_"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            where = "".join(traceback.format_stack(limit=4)[:-1])

            def build(*args: Any, **kwargs: Any) -> MetricsLambda:
                return self._lambda(_ResultMethod(name, where), self, *args, **kwargs)

            return build


class _ResultMethod:
    """Calls one method of a metric's computed value; a missing method names where it was asked for."""

    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.where = where

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            method = getattr(value, self.name)
        except AttributeError:
            raise AttributeError(
                f"Metric result of type {type(value).__name__!r} has no attribute {self.name!r}; "
                f"it was asked for at:\n{self.where}"
            ) from None
        return method(*args, **kwargs)


def _call_method(value: Any, method: str) -> Any:
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=torch.float64)
    return getattr(value, method)()


def _publishable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            return value.item()
        if value.device.type != "cpu":
            return value.cpu()
    return value


class MetricsLambda(Metric):
    """``f(*args, **kwargs)`` where every metric among the arguments is replaced by its ``compute()``.

    Attaching it attaches the metrics it depends on (their reset and update handlers, once), so they
    need not be attached themselves. Arithmetic on metrics (``precision * 2``, ``m[0]``, ``m.mean()``)
    builds one of these. As in Ignite, building one resets the metrics it depends on, and it is used
    either attached to an engine or by hand (:meth:`update`/:meth:`compute`), not both at once.

    Args:
        f: the function applied to the computed values (tensors among them moved to the CPU).
        args, kwargs: metrics and plain values passed to ``f``.
        skip_unrolling, metrics_result_mode: as for :class:`Metric`.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> from cadence.metrics import Precision, Recall
        >>> precision, recall = Precision(average=False), Recall(average=False)
        >>> f1 = MetricsLambda(lambda p, r: 2 * p * r / (p + r), precision, recall)
        >>> engine = Engine(lambda engine, batch: batch)
        >>> f1.attach(engine, "f1")
        >>> y_pred, y = torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 0, 0])
        >>> round(engine.run([(y_pred, y)]).metrics["f1"], 4)
        0.6667
    """

    required_output_keys = None

    def __init__(
        self,
        f: Callable[..., Any],
        *args: Any,
        skip_unrolling: bool = False,
        metrics_result_mode: MetricsResultMode | str = MetricsResultMode.BOTH,
        **kwargs: Any,
    ) -> None:
        if not callable(f):
            raise TypeError(f"MetricsLambda needs a callable as its first argument, got {f!r}.")
        self.function = f
        self.args = list(args)
        self.kwargs = kwargs
        self._engine: weakref.ref[Engine[Any]] | None = None
        self._updated = False
        # The dependencies' handlers that attach() added (not those already there), so detach() removes only them.
        self._added: weakref.WeakKeyDictionary[Engine[Any], list[tuple[Metric, str]]] = weakref.WeakKeyDictionary()
        super().__init__(identity, "cpu", skip_unrolling, metrics_result_mode)

    @property
    def engine(self) -> Engine[Any] | None:
        """The engine this metric is attached to (``None`` when it is not)."""
        return None if self._engine is None else self._engine()

    def _dependencies(self) -> Iterator[Metric]:
        for value in itertools.chain(self.args, self.kwargs.values()):
            if isinstance(value, Metric):
                yield value

    def reset(self) -> None:
        """Reset every metric this one depends on."""
        for metric in self._dependencies():
            metric.reset()
        self._updated = False

    def _leaves(self) -> list[Metric]:
        """The metrics (not lambdas) this one depends on, each once."""
        leaves: dict[int, Metric] = {}
        for metric in self._dependencies():
            for leaf in metric._leaves() if isinstance(metric, MetricsLambda) else [metric]:
                leaves.setdefault(id(leaf), leaf)
        return list(leaves.values())

    def update(self, output: Any) -> None:
        """Update each metric this one depends on once (by hand; when attached, the engine does it)."""
        if self.engine is not None:
            raise ValueError(
                "MetricsLambda is already attached to an engine, which updates its dependencies; "
                "calling update() as well would count the data twice. Detach it first."
            )
        for metric in self._leaves():
            metric.update(output)
        self._updated = True

    def compute(self) -> Any:
        """``f`` applied to the computed values of the metrics among the arguments."""
        args = [_value_on_cpu(a) for a in self.args]
        kwargs = {k: _value_on_cpu(v) for k, v in self.kwargs.items()}
        return self.function(*args, **kwargs)

    def attach(self, engine: Engine[Any], name: str, usage: MetricUsage | str = "epoch_wise") -> None:
        """Attach the dependencies' reset and update handlers (once each), and publish as ``name``."""
        if self._updated:
            raise ValueError(
                "The underlying metrics are already updated by hand (update()); call reset() before attaching, "
                "so that the engine's data is not mixed with it."
            )
        usage = self._check_attach(engine, name, usage)
        self._attach_dependencies(engine, usage, self._added.setdefault(engine, []))
        engine.add_event_handler(usage.COMPLETED, self.completed, name)
        self._engine = weakref.ref(engine)

    def _attach_dependencies(self, engine: Engine[Any], usage: MetricUsage, added: list[tuple[Metric, str]]) -> None:
        for metric in self._dependencies():
            if isinstance(metric, MetricsLambda):
                metric._attach_dependencies(engine, usage, added)
                continue
            metric._reset_event = usage.STARTED
            if not engine.has_event_handler(metric.started, usage.STARTED):
                engine.add_event_handler(usage.STARTED, metric.started)
                added.append((metric, "started"))
            if not engine.has_event_handler(metric.iteration_completed, usage.ITERATION_COMPLETED):
                engine.add_event_handler(usage.ITERATION_COMPLETED, metric.iteration_completed)
                added.append((metric, "iteration_completed"))

    def detach(self, engine: Engine[Any], usage: MetricUsage | str = "epoch_wise") -> None:
        """Stop publishing, and remove the dependencies' handlers that :meth:`attach` added for ``usage``.

        A dependency that publishes under its own name keeps its handlers.
        """
        usage = to_usage(usage)
        super().detach(engine, usage)
        self._engine = None
        kept = []
        for metric, handler_name in self._added.pop(engine, []):
            event = usage.STARTED if handler_name == "started" else usage.ITERATION_COMPLETED
            handler = getattr(metric, handler_name)
            if not engine.has_event_handler(handler, event):
                kept.append((metric, handler_name))  # added for another usage
            elif not metric.is_attached(engine, usage):
                engine.remove_event_handler(handler, event)
        if kept:
            self._added[engine] = kept

    def is_attached(self, engine: Engine[Any], usage: MetricUsage | str = "epoch_wise") -> bool:
        """Whether this metric publishes on ``engine`` and all its dependencies are updated there."""
        usage = to_usage(usage)
        return super().is_attached(engine, usage) and all(
            engine.has_event_handler(m.iteration_completed, usage.ITERATION_COMPLETED) for m in self._leaves()
        )

    def started(self, engine: Engine[Any]) -> None:
        """Reset the dependencies (as :meth:`Metric.started` does for each)."""
        for metric in self._dependencies():
            metric.started(engine)

    def resume_epoch(self, engine: Engine[Any]) -> None:
        """Continue the dependencies' epoch (as :meth:`Metric.resume_epoch` does for each)."""
        for metric in self._dependencies():
            metric.resume_epoch(engine)

    def state_dict(self) -> dict[str, Any]:
        """The states of the metrics this one depends on, in argument order."""
        return {
            "metric": type(self).__name__,
            "config": {},
            "state": {"dependencies": [m.state_dict() for m in self._dependencies()]},
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the states of the metrics this one depends on."""
        dependencies = list(self._dependencies())
        ok = isinstance(state_dict, Mapping) and state_dict.get("metric") == type(self).__name__
        saved = state_dict["state"].get("dependencies") if ok and isinstance(state_dict.get("state"), Mapping) else None
        if not isinstance(saved, list):
            raise ValueError(f"Cannot load {state_dict!r:.200} into a MetricsLambda: it was not made by one.")
        if len(saved) != len(dependencies):
            raise ValueError(
                f"This MetricsLambda depends on {len(dependencies)} metrics, but the state holds {len(saved)}."
            )
        for metric, state in zip(dependencies, saved, strict=True):
            metric.load_state_dict(state)


def _value_on_cpu(value: Any) -> Any:
    if isinstance(value, Metric):
        value = value.compute()
    return value.cpu() if isinstance(value, torch.Tensor) else value
