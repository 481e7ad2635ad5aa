"""What a metric is, engine aside: the ``reset``/``update``/``compute`` contract, and its saved state.

:class:`~cadence.metrics.metric.Metric` builds on this (attaching to an engine, arithmetic on metrics); Ignite's
decorators (:mod:`cadence.metrics.decorators`, which the module of ``Metric`` re-exports) check for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from numbers import Number
from typing import Any, ClassVar, TypeVar

import torch

from cadence.distributed import ReduceOp, all_reduce, get_world_size

__all__ = ["MetricBase", "reduced"]

ValueT = TypeVar("ValueT", torch.Tensor, int, float)


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


class MetricBase(ABC):
    """The contract of a metric (:meth:`reset`, :meth:`update`, :meth:`compute`) and its state protocol
    (:meth:`state_dict`, :meth:`load_state_dict`): the base of :class:`~cadence.metrics.metric.Metric`, which
    adds attaching to an engine. Subclass ``Metric`` to write a metric.

    Subclasses name their accumulators in ``_state_names`` so that :meth:`state_dict` can save them
    (Ignite's ``_state_dict_all_req_keys`` is read too: numbers, tensors, metrics, and lists or dicts of them).

    Example:
        >>> from cadence.metrics import Average
        >>> mean = Average()
        >>> isinstance(mean, MetricBase), sorted(mean.state_dict())
        (True, ['config', 'metric', 'state'])
    """

    _state_names: ClassVar[tuple[str, ...]] = ()
    _lazy_state_names: ClassVar[frozenset[str]] = frozenset()
    _state_dict_all_req_keys: ClassVar[tuple[str, ...]] = ()
    _device: torch.device
    _restored: bool  # a state was loaded: the engine's next reset may be skipped (see Metric.started)

    @abstractmethod
    def reset(self) -> None:
        """Forget everything accumulated so far."""

    @abstractmethod
    def update(self, output: Any) -> None:
        """Accumulate one batch of (already transformed) output."""

    @abstractmethod
    def compute(self) -> Any:
        """Return the value over everything accumulated (over all processes when distributed)."""

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


def _copied(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, MetricBase):
        return value.state_dict()
    if isinstance(value, list | tuple):
        return type(value)(_copied(v) for v in value)
    if isinstance(value, dict):
        return {key: _copied(v) for key, v in value.items()}
    return value


def _is_saveable(value: Any) -> bool:
    if value is None or isinstance(value, Number | torch.Tensor | MetricBase):
        return True
    if isinstance(value, list | tuple):
        return all(_is_saveable(v) for v in value)
    return isinstance(value, dict) and all(_is_saveable(v) for v in value.values())


def _restored(current: Any, saved: Any, device: torch.device) -> Any:
    """``saved`` as the new value of an attribute now holding ``current``: a metric loads its own state in place."""
    if isinstance(current, MetricBase) and isinstance(saved, Mapping):
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
