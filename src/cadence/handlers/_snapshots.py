"""A copy of stateful objects' states (models, optimizers...) kept in memory, refreshed in place, and put back.

:class:`~cadence.handlers.spikes.SpikeRollback` keeps one to undo training steps. A refresh copies each tensor
into the buffer the previous refresh allocated (no allocation once the shapes are known); a restore loads a
copy, so that no live object ever shares a tensor with the snapshot.
"""

from __future__ import annotations

import contextlib
import copy
import enum
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["Snapshot", "SnapshotPlace", "drop_gradients", "live_hyperparameters"]


class SnapshotPlace(enum.Enum):
    """Where a :class:`~cadence.handlers.spikes.SpikeRollback` keeps its copy of the states.

    ``SAME_DEVICE`` keeps each tensor where it lives (a GPU copy of GPU weights: a device-to-device copy per
    snapshot, as much device memory as the states); ``CPU`` keeps them in (pinned) host memory: no device memory,
    a device-to-host copy per snapshot.

    Example:
        >>> SnapshotPlace("cpu")
        <SnapshotPlace.CPU: 'cpu'>
    """

    SAME_DEVICE = "same_device"
    CPU = "cpu"


def _refresh(source: Any, previous: Any, place: SnapshotPlace) -> Any:
    """A copy of ``source`` (nested mappings, lists, tuples, tensors) reusing ``previous``'s tensors where they fit."""
    if isinstance(source, torch.Tensor):
        tensor = source.detach()
        device = torch.device("cpu") if place is SnapshotPlace.CPU else tensor.device
        asynchronous = tensor.is_cuda and device.type == "cpu"  # into pinned memory, ordered on the stream
        fits = (
            isinstance(previous, torch.Tensor)
            and previous.shape == tensor.shape
            and previous.dtype == tensor.dtype
            and previous.device == device
        )
        if not fits:
            previous = torch.empty(tensor.shape, dtype=tensor.dtype, device=device, pin_memory=asynchronous)
        target: torch.Tensor = previous
        target.copy_(tensor, non_blocking=asynchronous)
        return target
    if isinstance(source, Mapping):
        old = previous if isinstance(previous, Mapping) else {}
        copied = OrderedDict((key, _refresh(value, old.get(key), place)) for key, value in source.items())
        versions = getattr(source, "_metadata", None)  # a module state's versions: load_state_dict reads them
        if versions is not None:
            setattr(copied, "_metadata", copy.deepcopy(versions))  # noqa: B010  # torch keeps it as an attribute
        return copied
    if isinstance(source, list | tuple):
        olds = previous if isinstance(previous, list | tuple) and len(previous) == len(source) else [None] * len(source)
        items = [_refresh(value, old, place) for value, old in zip(source, olds, strict=True)]
        return items if isinstance(source, list) else tuple(items)
    return copy.deepcopy(source)


def _clone(state: Any, device: torch.device | None = None) -> Any:
    """A copy of ``state`` that shares no tensor with it (on ``device`` when given)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to(device=device, copy=True)
    if isinstance(state, Mapping):
        cloned = OrderedDict((key, _clone(value, device)) for key, value in state.items())
        versions = getattr(state, "_metadata", None)
        if versions is not None:
            setattr(cloned, "_metadata", copy.deepcopy(versions))  # noqa: B010  # as above
        return cloned
    if isinstance(state, list | tuple):
        items = [_clone(value, device) for value in state]
        return items if isinstance(state, list) else tuple(items)
    return copy.deepcopy(state)


@contextlib.contextmanager
def live_hyperparameters(objects: Mapping[str, Any]) -> Iterator[None]:
    """Keep the optimizers' current hyperparameters (learning rate, momentum...) across a load of older states.

    The run's iteration count is not rolled back, so neither is the schedule that sets these from it.
    """
    optimizers = [obj for obj in objects.values() if isinstance(obj, torch.optim.Optimizer)]
    kept = [
        (
            optimizer,
            [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups],
        )
        for optimizer in optimizers
    ]
    yield
    for optimizer, groups in kept:
        for group, hyperparameters in zip(optimizer.param_groups, groups, strict=True):
            group.update(hyperparameters)


def drop_gradients(objects: Mapping[str, Any]) -> None:
    """Forget the gradients held by the models and optimizers among ``objects`` (they belong to undone steps)."""
    for obj in objects.values():
        if isinstance(obj, nn.Module | torch.optim.Optimizer):
            obj.zero_grad(set_to_none=True)


class Snapshot:
    """The states of ``objects`` (by name) as they were after iteration :attr:`iteration`, kept in memory."""

    def __init__(self, objects: Mapping[str, Any], place: SnapshotPlace) -> None:
        self.objects = objects
        self.place = place
        self.states: dict[str, Any] | None = None
        self.iteration = 0

    def capture(self, iteration: int) -> None:
        """Copy the objects' states now (into the buffers of the previous capture where they fit)."""
        old = self.states or {}
        place = self.place
        self.states = {name: _refresh(obj.state_dict(), old.get(name), place) for name, obj in self.objects.items()}
        self.iteration = iteration

    def restore(self) -> None:
        """Load the kept states back into the objects (optimizers keep their current hyperparameters) and drop
        their gradients."""
        if self.states is None:
            raise RuntimeError("Snapshot.restore() before any capture()")
        with live_hyperparameters(self.objects):
            for name, obj in self.objects.items():
                state = self.states[name]
                # a module copies the values into its own tensors; anything else might keep the tensors it is given
                obj.load_state_dict(state if isinstance(obj, nn.Module) else _clone(state))
        drop_gradients(self.objects)

    def export(self) -> dict[str, Any]:
        """The kept states on the CPU, sharing nothing with the snapshot (for a checkpoint)."""
        if self.states is None:
            raise RuntimeError("Snapshot.export() before any capture()")
        if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]  # untyped in torch
            torch.cuda.synchronize()  # copies into pinned memory may still be on their way
        return {name: _clone(state, torch.device("cpu")) for name, state in self.states.items()}

    def adopt(self, states: Mapping[str, Any], iteration: int) -> None:
        """Take ``states`` (as :meth:`export` gave them) as the snapshot of ``iteration``."""
        self.states = {name: _refresh(states[name], None, self.place) for name in self.objects}
        self.iteration = iteration
