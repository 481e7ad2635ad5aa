"""The :class:`Metric` base class: ``reset``/``update``/``compute``, attaching to an engine, and state."""

from __future__ import annotations

import enum
import operator
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import torch

from cadence.distributed import ReduceOp, all_reduce, get_world_size
from cadence.engine import Engine, Events
from cadence.metrics.decorators import reinit__is_reduced, sync_all_reduce
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

if TYPE_CHECKING:
    from cadence.metrics.metrics_lambda import MetricsLambda

__all__ = [
    "BatchFiltered",
    "BatchWise",
    "EpochWise",
    "Metric",
    "MetricUsage",
    "MetricsResultMode",
    "NotComputableError",
    "RunningBatchWise",
    "RunningEpochWise",
    "SingleEpochRunningBatchWise",
    "identity",
    "reduced",
    "reinit__is_reduced",
    "sync_all_reduce",
]

ValueT = TypeVar("ValueT", torch.Tensor, int, float)


class NotComputableError(RuntimeError):
    """Raised by ``compute()`` when a metric has not seen the data it needs (e.g. before any update).

    Example:
        >>> from cadence.metrics import Accuracy
        >>> try:
        ...     Accuracy().compute()
        ... except NotComputableError as error:
        ...     print("not yet")
        not yet
    """


def identity(output: Any) -> Any:
    """The default ``output_transform``: the engine's output as it is.

    Example:
        >>> identity((1, 2))
        (1, 2)
    """
    return output


def reduced(value: ValueT, op: ReduceOp = ReduceOp.SUM) -> ValueT:
    """``value`` combined over all processes, leaving ``value`` itself untouched; ``value`` in one process.

    Example:
        >>> reduced(torch.tensor(3.0)), reduced(4)
        (tensor(3.), 4)
    """
    if get_world_size() == 1:
        return value
    if isinstance(value, torch.Tensor):
        return all_reduce(value.clone(), op)
    return all_reduce(value, op)


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


class Metric(ABC):
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
    _state_names: ClassVar[tuple[str, ...]] = ()
    _lazy_state_names: ClassVar[frozenset[str]] = frozenset()
    _state_dict_all_req_keys: ClassVar[tuple[str, ...]] = ()

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

    # ------------------------------------------------------------------ the metric contract
    @abstractmethod
    def reset(self) -> None:
        """Forget everything accumulated so far."""

    @abstractmethod
    def update(self, output: Any) -> None:
        """Accumulate one batch of (already transformed) output."""

    @abstractmethod
    def compute(self) -> Any:
        """Return the value over everything accumulated (over all processes when distributed)."""

    # ------------------------------------------------------------------ engine handlers
    def started(self, engine: Engine[Any]) -> None:
        """Reset, except when a run continues an epoch begun earlier (``engine.resuming_epoch``, e.g. after
        an exception or ``terminate()``) and for the first reset after :meth:`load_state_dict` mid-way."""
        if getattr(engine, "resuming_epoch", False) and self._reset_event in (Events.STARTED, Events.EPOCH_STARTED):
            self._restored = False
            return
        if self._restored:
            self._restored = False
            if self._resumes_mid_way(engine):
                return
        self.reset()

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

    # ------------------------------------------------------------------ state
    def _config(self) -> dict[str, Any]:
        """Settings that a saved state must have been made with (e.g. ``num_classes``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The accumulated state: enough to resume accumulating exactly, e.g. from a mid-epoch checkpoint.

        Example:
            >>> from cadence.metrics import Average
            >>> mean = Average()
            >>> mean.update(torch.tensor(2.0))
            >>> copy = Average()
            >>> copy.load_state_dict(mean.state_dict())
            >>> copy.update(torch.tensor(4.0))
            >>> copy.compute()
            tensor(3., dtype=torch.float64)
        """
        return {
            "metric": type(self).__name__,
            "config": self._config(),
            "state": {name: _copied(getattr(self, name)) for name in self._saved_state_names()},
        }

    def _saved_state_names(self) -> tuple[str, ...]:
        """``_state_names``, then the names of Ignite's ``_state_dict_all_req_keys``, checked as Ignite does."""
        extra = tuple(name for name in self._state_dict_all_req_keys if name not in self._state_names)
        for name in extra:
            if name not in vars(self):
                raise ValueError(
                    f"Found a value in _state_dict_all_req_keys that is not among metric attributes: {name}; "
                    f"{type(self).__name__} must set it (in __init__ or reset) before state_dict()."
                )
            if not _is_saveable(getattr(self, name)):
                raise TypeError(
                    "Found attribute of unsupported type. Currently, supported types include numeric types, tensor, "
                    f"Metric or sequence/mapping of metrics; {name!r} is a {type(getattr(self, name)).__name__}."
                )
        return self._state_names + extra

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict`; a state of another metric type or shape is refused.

        When the next run resumes mid-epoch (or mid-run for running usages), the engine's first reset of
        this metric is skipped, so accumulation continues from the restored state.
        """
        state = self._validated_state(state_dict)
        for name, value in state.items():
            setattr(self, name, _restored(getattr(self, name, None), value, self._device))
        self._restored = True

    def _validated_state(self, state_dict: Mapping[str, Any]) -> dict[str, Any]:
        kind = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Argument state_dict should be a dictionary (as made by {kind}.state_dict()), but given "
                f"{type(state_dict).__name__}."
            )
        if set(state_dict) != {"metric", "config", "state"}:
            raise ValueError(
                f"Incorrect state_dict object. Argument state_dict should be a dictionary provided by "
                f"Metric.state_dict(): {kind}.load_state_dict needs a mapping with keys 'metric', 'config' and "
                f"'state', got {state_dict!r:.200}."
            )
        if state_dict["metric"] != kind:
            raise ValueError(f"Cannot load the state of a {state_dict['metric']} into a {kind}.")
        config = self._config()
        if state_dict["config"] != config:
            raise ValueError(
                f"Cannot load a {kind} state made with {state_dict['config']} into a {kind} with {config}."
            )
        state = dict(state_dict["state"])
        names = self._saved_state_names()
        if set(state) != set(names):
            raise ValueError(f"A {kind} state has the entries {sorted(names)}, got {sorted(state)}.")
        for name, value in state.items():
            current = getattr(self, name)
            fixed = (
                isinstance(current, torch.Tensor) and name in self._state_names and name not in self._lazy_state_names
            )
            if fixed and (not isinstance(value, torch.Tensor) or value.shape != current.shape):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(
                    f"Cannot load {kind} state entry {name!r}: expected a tensor of shape "
                    f"{tuple(current.shape)}, got {shape}."
                )
        self._check_state(state)
        return state

    def _check_state(self, state: dict[str, Any]) -> None:
        """Further checks of a state about to be loaded (metrics whose shapes are found from the data)."""
        _ = state

    # ------------------------------------------------------------------ arithmetic: lazily computed MetricsLambda
    def _lambda(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> MetricsLambda:
        from cadence.metrics.metrics_lambda import MetricsLambda

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


def _copied(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, Metric):
        return value.state_dict()
    if isinstance(value, list | tuple):
        return type(value)(_copied(v) for v in value)
    if isinstance(value, dict):
        return {key: _copied(v) for key, v in value.items()}
    return value


def _is_saveable(value: Any) -> bool:
    if value is None or isinstance(value, Number | torch.Tensor | Metric):
        return True
    if isinstance(value, list | tuple):
        return all(_is_saveable(v) for v in value)
    return isinstance(value, dict) and all(_is_saveable(v) for v in value.values())


def _restored(current: Any, saved: Any, device: torch.device) -> Any:
    """``saved`` as the new value of an attribute now holding ``current``: a metric loads its own state in place."""
    if isinstance(current, Metric) and isinstance(saved, Mapping):
        current.load_state_dict(saved)
        return current
    if isinstance(saved, torch.Tensor):
        return saved.to(device, copy=True)
    if isinstance(saved, list | tuple):
        same = isinstance(current, list | tuple) and len(current) == len(saved)
        currents = current if same else [None] * len(saved)
        return type(saved)(_restored(c, v, device) for c, v in zip(currents, saved, strict=True))
    if isinstance(saved, dict):
        known = current if isinstance(current, dict) else {}
        return {key: _restored(known.get(key), v, device) for key, v in saved.items()}
    return saved


def _publishable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            return value.item()
        if value.device.type != "cpu":
            return value.cpu()
    return value


def _check_pair(output: Any, kind: str) -> Sequence[Any]:
    if not isinstance(output, tuple | list) or len(output) != 2:
        raise TypeError(f"{kind}.update takes a pair (y_pred, y), got {type(output).__name__}.")
    return output
