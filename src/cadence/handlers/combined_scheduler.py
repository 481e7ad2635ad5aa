"""Schedulers made of schedulers: one after another (:class:`ConcatScheduler`), or side by side on
several parameter groups or optimizers (:class:`ParamGroupScheduler`)."""

from __future__ import annotations

import bisect
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from cadence.engine import Engine, EpochResumable, Events, RemovableEventHandle
from cadence.handlers.scheduler_base import (
    EventLike,
    OptimizerLike,
    ParamScheduler,
    ParamValue,
    check_integer,
    history_of,
    preserved,
    simulate,
)

__all__ = ["ConcatScheduler", "ParamGroupScheduler"]


class ParamGroupScheduler(EpochResumable):
    """Call several schedulers together, e.g. one per parameter group or one per optimizer.

    Each event calls every scheduler once; ``names`` label them in ``state_dict`` and in
    ``engine.state.param_history`` (default: each scheduler's ``param_name``). Like each of them, it
    does not step again for an epoch that a run continues (see :class:`~cadence.engine.EpochResumable`).

    Args:
        schedulers: the :class:`ParamScheduler` objects to drive.
        names: one name per scheduler.
        save_history: record each scheduler's values in ``engine.state.param_history[name]``.

    Example:
        >>> import torch
        >>> from cadence.handlers import LinearCyclicalScheduler
        >>> optimizer = torch.optim.SGD([{"params": [torch.zeros(1)]}, {"params": [torch.zeros(1)]}], lr=0.1)
        >>> head = LinearCyclicalScheduler(optimizer, "lr", 1.0, 0.0, 4, param_group_index=0)
        >>> body = LinearCyclicalScheduler(optimizer, "lr", 0.1, 0.0, 4, param_group_index=1)
        >>> scheduler = ParamGroupScheduler([head, body], names=["head_lr", "body_lr"])
        >>> scheduler(None)
        >>> scheduler(None)
        >>> [group["lr"] for group in optimizer.param_groups]
        [0.5, 0.05]
    """

    def __init__(
        self, schedulers: Sequence[ParamScheduler], names: Sequence[str] | None = None, save_history: bool = False
    ) -> None:
        if isinstance(schedulers, str) or not isinstance(schedulers, Sequence):
            raise TypeError(f"Argument schedulers should be a list/tuple, but given {schedulers!r}.")
        if not schedulers or not all(isinstance(s, ParamScheduler) for s in schedulers):
            raise ValueError(
                f"Argument schedulers should be a list/tuple of parameter schedulers, but given {schedulers!r}."
            )
        if names is None:
            names = [s.param_name for s in schedulers]
        if not isinstance(names, list | tuple):
            raise TypeError(f"Argument names should be a list/tuple, but given {names!r}.")
        if not all(isinstance(n, str) for n in names):
            raise ValueError(
                f"Argument names should be a list/tuple of parameter scheduler's names, but given {names}."
            )
        if len(names) != len(schedulers):
            raise ValueError(
                f"Number of schedulers {len(schedulers)} should be equal {len(names)}, the number of names."
            )
        self.schedulers = list(schedulers)
        self.names = list(names)
        self.save_history = save_history
        self.optimizer = [s.optimizer for s in self.schedulers]
        self.param_name = [s.param_name for s in self.schedulers]

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        for scheduler, scheduler_name in zip(self.schedulers, self.names, strict=True):
            scheduler(None)
            if self.save_history and engine is not None:
                values = [group[scheduler.param_name] for group in scheduler.optimizer_param_groups]
                history_of(engine).setdefault(scheduler_name, []).append(values)

    def attach(self, engine: Engine[Any], event: EventLike = Events.ITERATION_STARTED) -> RemovableEventHandle:
        """Call these schedulers each time ``event`` fires on ``engine``; return the removable handle."""
        return engine.add_event_handler(event, self)

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups of all the schedulers, in order."""
        return [group for s in self.schedulers for group in s.optimizer_param_groups]

    def get_param(self) -> list[ParamValue]:
        """Each scheduler's value for the current event."""
        return [s.get_param() for s in self.schedulers]

    def _value(self) -> list[ParamValue]:
        return [s._value() for s in self.schedulers]

    def _advance(self) -> None:
        for scheduler in self.schedulers:
            scheduler._advance()

    def state_dict(self) -> dict[str, list[Any]]:
        """``{"schedulers": [(name, state), ...]}``."""
        return {"schedulers": [(n, s.state_dict()) for n, s in zip(self.names, self.schedulers, strict=True)]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the schedulers; names and count must match before anything changes."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Argument state_dict should be a dictionary, but given {type(state_dict).__name__}.")
        if "schedulers" not in state_dict:
            raise ValueError(
                f"Required state attribute 'schedulers' is absent in provided state_dict {sorted(state_dict)}."
            )
        states = state_dict["schedulers"]
        if len(states) != len(self.schedulers):
            raise ValueError(
                f"Input state_dict contains {len(states)} state_dicts of param group schedulers, "
                f"but {len(self.schedulers)} needed."
            )
        for expected, (name, _) in zip(self.names, states, strict=True):
            if name != expected:
                raise ValueError(
                    f"Name of scheduler from input state dict does not correspond to required one, {name!r} vs "
                    f"{expected!r}."
                )
        for scheduler, (_, state) in zip(self.schedulers, states, strict=True):
            scheduler.load_state_dict(state)

    @classmethod
    def simulate_values(cls, num_events: int, schedulers: Sequence[ParamScheduler], **kwargs: Any) -> list[list[Any]]:
        """Rows ``[event_index, value of each scheduler]``; the schedulers and optimizers are left as they were."""
        check_integer("num_events", num_events, 0)
        with preserved(schedulers):
            scheduler = cls(schedulers, **kwargs)
            rows: list[list[Any]] = []
            for index in range(num_events):
                rows.append([index, *scheduler.get_param()])
                scheduler(None)
        return rows


AnyScheduler = ParamScheduler | ParamGroupScheduler


def _flat(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_concat(schedulers: object, durations: object) -> tuple[OptimizerLike, str]:
    if isinstance(schedulers, str) or not isinstance(schedulers, Sequence):
        raise TypeError(f"Argument schedulers should be a sequence, but given {schedulers!r}.")
    if len(schedulers) < 2:
        raise ValueError(
            f"Argument schedulers should be of more than one parameter schedulers, but given {schedulers!r}."
        )
    if not isinstance(durations, list | tuple):
        raise TypeError(f"Argument durations should be list/tuple, but given {durations!r}.")
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in durations):
        raise ValueError(f"Argument durations should be list/tuple of integers, but given {durations}.")
    if any(d < 1 for d in durations):
        raise ValueError(f"Argument durations should be list/tuple of positive integers, but given {durations}.")
    if len(schedulers) != len(durations) + 1:
        raise ValueError(
            f"Incorrect number schedulers or duration values, given {len(schedulers)} and {len(durations)}: "
            "durations lists one length per scheduler except the last."
        )
    for index, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, ParamScheduler | ParamGroupScheduler):
            raise TypeError(
                f"Value at index {index} of schedulers should be a parameter scheduler, but given "
                f"{type(scheduler).__name__}."
            )
    optimizers = {id(o): o for s in schedulers for o in _flat(s.optimizer)}
    if len(optimizers) != 1:
        raise ValueError("schedulers should be related to same optimizer; all must drive one optimizer.")
    names = {n for s in schedulers for n in _flat(s.param_name)}
    if len(names) != 1:
        raise ValueError(f"schedulers should be related to same param_name, but they drive {sorted(names)}.")
    return next(iter(optimizers.values())), names.pop()


class ConcatScheduler(ParamScheduler):
    """Run schedulers one after another: ``schedulers[i]`` for ``durations[i]`` events, the last one for ever.

    All schedulers must drive the same parameter of the same optimizer. Each scheduler starts from
    its own first value when its turn comes.

    Args:
        schedulers: at least two :class:`ParamScheduler` (or :class:`ParamGroupScheduler`) objects.
        durations: the number of events of each scheduler but the last.
        save_history: record each value in ``engine.state.param_history``.

    Example:
        >>> import torch
        >>> from cadence.handlers import CosineAnnealingScheduler, PiecewiseLinear
        >>> optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> warm = PiecewiseLinear(optimizer, "lr", [(0, 0.0), (2, 1.0)])
        >>> decay = CosineAnnealingScheduler(optimizer, "lr", 1.0, 0.0, cycle_size=4)
        >>> rows = ConcatScheduler.simulate_values(6, schedulers=[warm, decay], durations=[2])
        >>> [round(v, 3) for _, v in rows]
        [0.0, 0.5, 1.0, 0.854, 0.5, 0.146]
    """

    _state_attrs = ("event_index", "schedulers")

    def __init__(
        self, schedulers: Sequence[AnyScheduler], durations: Sequence[int], save_history: bool = False
    ) -> None:
        optimizer, param_name = _check_concat(schedulers, durations)
        super().__init__(optimizer, param_name, save_history=save_history)
        self.schedulers = list(schedulers)
        self.durations = [int(d) for d in durations]
        self._ends = [sum(self.durations[: i + 1]) for i in range(len(self.durations))]

    def _active(self) -> AnyScheduler:
        return self.schedulers[bisect.bisect_right(self._ends, self.event_index)]

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups of the scheduler whose turn it is."""
        return self._active().optimizer_param_groups

    def get_param(self) -> ParamValue:
        return self._active()._value()

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        self._active()(None)
        self._record(engine, name)
        self.event_index += 1

    def _advance(self) -> None:
        self._active()._advance()
        self.event_index += 1

    def state_dict(self) -> dict[str, Any]:
        return {"event_index": self.event_index, "schedulers": [s.state_dict() for s in self.schedulers]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self._check_state_keys(state_dict, ("schedulers", "event_index"))
        states = state_dict["schedulers"]
        if len(states) != len(self.schedulers):
            raise ValueError(
                f"Input state_dict contains {len(states)} state_dicts of concatenated schedulers, "
                f"but {len(self.schedulers)} needed."
            )
        event_index = check_integer("event_index", state_dict["event_index"], 0)
        for scheduler, state in zip(self.schedulers, states, strict=True):
            scheduler.load_state_dict(state)
        self.event_index = event_index

    @classmethod
    def simulate_values(  # type: ignore[override]  # Ignite's signature: takes schedulers, not constructor kwargs
        cls,
        num_events: int,
        schedulers: Sequence[AnyScheduler],
        durations: Sequence[int],
        param_names: Sequence[str] | None = None,
    ) -> list[list[Any]]:
        """Rows ``[event_index, value...]``; the given schedulers and optimizer are left as they were.

        ``param_names`` picks the group keys recorded (default: the schedulers' ``param_name``).
        """
        if param_names is not None:
            if not isinstance(param_names, list | tuple):
                kind = type(param_names).__name__
                raise TypeError(f"Argument param_names should be list or tuple, but given {kind}.")
            if not all(isinstance(n, str) for n in param_names):
                raise ValueError(f"Argument param_names should be list or tuple of strings, but given {param_names}.")
        _check_concat(schedulers, durations)
        with preserved(schedulers):
            return simulate(cls(schedulers, durations), num_events, param_names)
