"""Parameter schedulers: set an optimizer parameter (usually ``lr``) from a schedule, one value per event.

A scheduler is a handler: attach it to an event (``scheduler.attach(trainer, Events.ITERATION_STARTED)``
or ``trainer.add_event_handler(event, scheduler)``) and each time the event fires it writes the next
value of its schedule into the optimizer's parameter groups. The first call writes the schedule's
first value (event index 0). Every scheduler has ``state_dict()``/``load_state_dict()`` for exact resume.
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from torch.optim import Optimizer

from cadence.engine import CallableEventWithFilter, Engine, Events, EventsList, RemovableEventHandle

__all__ = [
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "LinearCyclicalScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
]

ParamValue = float | list[float]


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    return float(value)


def _int_at_least(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return value


def _fake_optimizer(param_name: str = "lr", value: float = 0.0) -> Optimizer:
    """A one-parameter SGD optimizer whose group holds ``param_name``: what ``simulate_values`` schedules."""
    optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.0)
    optimizer.param_groups[0][param_name] = value
    return optimizer


@contextmanager
def _preserved(schedulers: Sequence[ParamScheduler]) -> Iterator[None]:
    """Run a block (a simulation) and then put the schedulers and their optimizers back as they were."""
    states = [copy.deepcopy(s.state_dict()) for s in schedulers]
    optimizers = {id(s.optimizer): s.optimizer for s in schedulers}
    groups = {
        key: [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"} for g in opt.param_groups]
        for key, opt in optimizers.items()
    }
    try:
        with warnings.catch_warnings():
            # A simulation steps torch schedulers without optimizer steps; torch's warning about it is noise here.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
            yield
    finally:
        for scheduler, state in zip(schedulers, states, strict=True):
            scheduler.load_state_dict(state)
        for key, opt in optimizers.items():
            for group, saved in zip(opt.param_groups, groups[key], strict=True):
                group.update(saved)


def _simulate(
    scheduler: ParamScheduler, num_events: int, param_names: Sequence[str] | None = None
) -> list[list[float]]:
    """Call ``scheduler`` ``num_events`` times; rows ``[event_index, value per group (per name)]``."""
    _int_at_least("num_events", num_events, 0)
    names = [scheduler.param_name] if param_names is None else list(param_names)
    rows: list[list[float]] = []
    for index in range(num_events):
        scheduler(None)
        groups = scheduler.optimizer_param_groups
        rows.append([index, *(float(g[name]) for name in names for g in groups)])
    return rows


class ParamScheduler(ABC):
    """Base class: a schedule of values for one optimizer parameter, advanced by one per call.

    Subclasses implement :meth:`get_param` (the value for ``self.event_index``). Calling the
    scheduler writes that value to the optimizer, records it in ``engine.state.param_history[name]``
    when ``save_history`` is set, and moves to the next event.

    Args:
        optimizer: the optimizer whose parameter groups are changed.
        param_name: the parameter-group key to schedule, e.g. ``"lr"`` or ``"momentum"``.
        save_history: keep every value in ``engine.state.param_history``.
        param_group_index: schedule only this parameter group (default: all groups).

    Example:
        >>> class Halving(ParamScheduler):
        ...     def get_param(self):
        ...         return 1.0 / 2**self.event_index
        >>> Halving.simulate_values(3, param_name="lr")
        [[0, 1.0], [1, 0.5], [2, 0.25]]
    """

    _state_attrs: ClassVar[tuple[str, ...]] = ("event_index",)

    def __init__(
        self,
        optimizer: Optimizer,
        param_name: str,
        *,
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}.")
        if not isinstance(param_name, str):
            raise TypeError(f"param_name must be a string such as 'lr', got {param_name!r}.")
        groups = optimizer.param_groups
        if param_group_index is not None and (
            isinstance(param_group_index, bool)
            or not isinstance(param_group_index, int)
            or not 0 <= param_group_index < len(groups)
        ):
            raise ValueError(
                f"param_group_index must be None or an index below {len(groups)} "
                f"(the optimizer's number of parameter groups), got {param_group_index!r}."
            )
        self.optimizer = optimizer
        self.param_name = param_name
        self.save_history = save_history
        self.param_group_index = param_group_index
        self.event_index = 0
        for index, group in enumerate(self.optimizer_param_groups):
            if param_name not in group:
                known = sorted(k for k in group if k != "params")
                raise ValueError(
                    f"Parameter group {index} of the optimizer has no {param_name!r} (it has {known}); "
                    "fix the name or add the key to the parameter group first."
                )

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups this scheduler writes to."""
        groups = self.optimizer.param_groups
        return groups if self.param_group_index is None else [groups[self.param_group_index]]

    @abstractmethod
    def get_param(self) -> ParamValue:
        """The value for the current event: one number for all groups, or one per group."""

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        self._apply(self.get_param())
        self._record(engine, name)
        self._advance()

    def attach(
        self,
        engine: Engine[Any],
        event_name: CallableEventWithFilter | EventsList | str = Events.ITERATION_STARTED,
    ) -> RemovableEventHandle:
        """Call this scheduler each time ``event_name`` fires on ``engine``; return the removable handle."""
        return engine.add_event_handler(event_name, self)

    def _apply(self, value: ParamValue) -> None:
        groups = self.optimizer_param_groups
        if isinstance(value, list):
            if len(value) != len(groups):
                raise ValueError(f"{type(self).__name__} gave {len(value)} values for {len(groups)} parameter groups.")
            for group, group_value in zip(groups, value, strict=True):
                group[self.param_name] = group_value
        else:
            for group in groups:
                group[self.param_name] = value

    def _record(self, engine: Engine[Any] | None, name: str | None) -> None:
        if not self.save_history or engine is None:
            return
        history: dict[str, list[list[float]]] | None = getattr(engine.state, "param_history", None)
        if history is None:
            history = {}
            setattr(engine.state, "param_history", history)  # noqa: B010  # a user attribute of State
        history.setdefault(name or self.param_name, []).append(
            [group[self.param_name] for group in self.optimizer_param_groups]
        )

    def _advance(self) -> None:
        """Move to the next event without touching the optimizer."""
        self.event_index += 1

    def state_dict(self) -> dict[str, Any]:
        """The position in the schedule (and any value the schedule changes as it goes)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self._state_attrs}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict`; the keys must match exactly."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping, got {type(state_dict).__name__}.")
        expected = set(self._state_attrs)
        missing, unexpected = sorted(expected - set(state_dict)), sorted(set(state_dict) - expected)
        if missing or unexpected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                "was the state saved from a different kind of scheduler?"
            )
        for name in self._state_attrs:
            setattr(self, name, copy.deepcopy(state_dict[name]))

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[float]]:
        """Rows ``[event_index, value]`` for the first ``num_events`` events, on a throw-away optimizer.

        ``scheduler_kwargs`` are the constructor's arguments except ``optimizer`` and ``save_history``.
        """
        scheduler_kwargs = {k: v for k, v in scheduler_kwargs.items() if k not in ("optimizer", "save_history")}
        optimizer = _fake_optimizer(scheduler_kwargs.get("param_name", "lr"))
        return _simulate(cls(optimizer, **scheduler_kwargs), num_events)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(param_name={self.param_name!r}, event_index={self.event_index})"


class CyclicalScheduler(ParamScheduler):
    """Base class for schedules that repeat in cycles of ``cycle_size`` events.

    Each cycle goes from ``start_value`` towards ``end_value`` (the shape is :meth:`cycle_value`),
    then, when ``warmup_duration > 0``, rises linearly back to the next cycle's start value over
    that many events. After each cycle the cycle and warm-up lengths are multiplied by ``cycle_mult``
    (rounded down), ``start_value`` by ``start_value_mult`` and ``end_value`` by ``end_value_mult``.

    Example:
        >>> class Sawtooth(CyclicalScheduler):
        ...     def cycle_value(self, progress):
        ...         return self.start_value + (self.end_value - self.start_value) * progress
        >>> [v for _, v in Sawtooth.simulate_values(5, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=2)]
        [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    _state_attrs = ("event_index", "cycle", "cycle_size", "warmup_duration", "start_value", "end_value")

    def __init__(
        self,
        optimizer: Optimizer,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: int,
        *,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: int = 0,
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        super().__init__(optimizer, param_name, save_history=save_history, param_group_index=param_group_index)
        self.start_value = _number("start_value", start_value)
        self.end_value = _number("end_value", end_value)
        self.cycle_size = _int_at_least("cycle_size", cycle_size, 2)
        self.cycle_mult = _number("cycle_mult", cycle_mult)
        if self.cycle_mult < 1.0:
            raise ValueError(f"cycle_mult must be >= 1 (cycles may grow, not shrink), got {cycle_mult!r}.")
        self.start_value_mult = _number("start_value_mult", start_value_mult)
        self.end_value_mult = _number("end_value_mult", end_value_mult)
        self.warmup_duration = _int_at_least("warmup_duration", warmup_duration, 0)
        self.cycle = 0

    @abstractmethod
    def cycle_value(self, progress: float) -> float:
        """The value at ``progress`` in ``[0, 1)`` of the current cycle (before its warm-up)."""

    def get_param(self) -> float:
        if self.event_index < self.cycle_size:
            return self.cycle_value(self.event_index / self.cycle_size)
        target = self.start_value * self.start_value_mult  # warm up to the next cycle's start
        fraction = (self.event_index - self.cycle_size) / self.warmup_duration
        return self.end_value + (target - self.end_value) * fraction

    def _advance(self) -> None:
        self.event_index += 1
        if self.event_index >= self.cycle_size + self.warmup_duration:
            self.event_index = 0
            self.cycle += 1
            self.cycle_size = int(self.cycle_size * self.cycle_mult)
            self.warmup_duration = int(self.warmup_duration * self.cycle_mult)
            self.start_value *= self.start_value_mult
            self.end_value *= self.end_value_mult


class LinearCyclicalScheduler(CyclicalScheduler):
    """Linear cycles: ``start_value`` to ``end_value`` and back within each cycle (a triangle wave).

    With ``monotonic=True`` each cycle goes from start to end only; combine it with ``warmup_duration``
    to climb back linearly. Other arguments are those of :class:`CyclicalScheduler`.

    Example:
        >>> rows = LinearCyclicalScheduler.simulate_values(
        ...     5, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=4)
        >>> [v for _, v in rows]
        [1.0, 0.5, 0.0, 0.5, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: int,
        *,
        monotonic: bool = False,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: int = 0,
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        super().__init__(
            optimizer,
            param_name,
            start_value,
            end_value,
            cycle_size,
            cycle_mult=cycle_mult,
            start_value_mult=start_value_mult,
            end_value_mult=end_value_mult,
            warmup_duration=warmup_duration,
            save_history=save_history,
            param_group_index=param_group_index,
        )
        if warmup_duration > 0 and not monotonic:
            raise ValueError(
                "warmup_duration > 0 needs monotonic=True: a triangle cycle already returns to its start value."
            )
        self.monotonic = monotonic

    def cycle_value(self, progress: float) -> float:
        if self.monotonic:
            return self.start_value + (self.end_value - self.start_value) * progress
        return self.end_value + (self.start_value - self.end_value) * abs(2.0 * progress - 1.0)


class CosineAnnealingScheduler(CyclicalScheduler):
    """Cosine annealing from ``start_value`` to ``end_value`` in each cycle (SGDR-style warm restarts).

    Arguments are those of :class:`CyclicalScheduler`; ``cycle_size`` is usually the number of
    iterations of the whole run (``len(loader) * max_epochs``) for a single annealing.

    Example:
        >>> rows = CosineAnnealingScheduler.simulate_values(
        ...     5, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=4)
        >>> [round(v, 3) for _, v in rows]
        [1.0, 0.854, 0.5, 0.146, 1.0]
    """

    def cycle_value(self, progress: float) -> float:
        return self.start_value + (self.end_value - self.start_value) * (1.0 - math.cos(math.pi * progress)) / 2.0


class PiecewiseLinear(ParamScheduler):
    """Linear interpolation between ``(event_index, value)`` milestones.

    Before the first milestone the value is the first value; after the last, the last value.
    Milestones are non-negative integers in non-decreasing order; a repeated milestone makes a jump.

    Example:
        >>> rows = PiecewiseLinear.simulate_values(
        ...     6, param_name="lr", milestones_values=[(1, 1.0), (3, 0.0), (4, 0.5)])
        >>> [v for _, v in rows]
        [1.0, 1.0, 0.5, 0.0, 0.5, 0.5]
    """

    _state_attrs = ("event_index", "milestones", "values")

    def __init__(
        self,
        optimizer: Optimizer,
        param_name: str,
        milestones_values: Sequence[tuple[int, float]],
        *,
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        super().__init__(optimizer, param_name, save_history=save_history, param_group_index=param_group_index)
        self.milestones, self.values = self._check_milestones(milestones_values)

    @staticmethod
    def _check_milestones(milestones_values: object) -> tuple[list[int], list[float]]:
        if not isinstance(milestones_values, Sequence) or len(milestones_values) == 0:
            raise ValueError(
                f"milestones_values must be a non-empty list of (milestone, value) pairs, got {milestones_values!r}."
            )
        milestones: list[int] = []
        values: list[float] = []
        for pair in milestones_values:
            if not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"Each entry of milestones_values must be a (milestone, value) pair, got {pair!r}.")
            milestone, value = pair
            if isinstance(milestone, bool) or not isinstance(milestone, int) or milestone < 0:
                raise TypeError(f"Milestones must be non-negative integers (event indices), got {milestone!r}.")
            if milestones and milestone < milestones[-1]:
                raise ValueError(
                    f"Milestones must be in increasing order, but {milestone} comes after {milestones[-1]}; "
                    "sort milestones_values by milestone."
                )
            milestones.append(milestone)
            values.append(_number("milestone value", value))
        return milestones, values

    def get_param(self) -> float:
        index = bisect.bisect_right(self.milestones, self.event_index) - 1
        if index < 0:
            return self.values[0]
        if index == len(self.milestones) - 1:
            return self.values[-1]
        start, end = self.milestones[index], self.milestones[index + 1]
        fraction = (self.event_index - start) / (end - start)
        return self.values[index] + (self.values[index + 1] - self.values[index]) * fraction


class ConcatScheduler(ParamScheduler):
    """Run schedulers one after another: ``schedulers[i]`` for ``durations[i]`` events, the last one for ever.

    All schedulers must drive the same parameter of the same optimizer (and parameter groups).

    Example:
        >>> optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> warm = PiecewiseLinear(optimizer, "lr", [(0, 0.0), (2, 1.0)])
        >>> decay = CosineAnnealingScheduler(optimizer, "lr", 1.0, 0.0, cycle_size=4)
        >>> rows = ConcatScheduler.simulate_values(6, schedulers=[warm, decay], durations=[2])
        >>> [round(v, 3) for _, v in rows]
        [0.0, 0.5, 1.0, 0.854, 0.5, 0.146]
    """

    _state_attrs = ("event_index", "schedulers")

    def __init__(
        self, schedulers: Sequence[ParamScheduler], durations: Sequence[int], *, save_history: bool = False
    ) -> None:
        self._check(schedulers, durations)
        first = schedulers[0]
        super().__init__(
            first.optimizer, first.param_name, save_history=save_history, param_group_index=first.param_group_index
        )
        self.schedulers = list(schedulers)
        self.durations = list(durations)
        self._ends = [sum(self.durations[: i + 1]) for i in range(len(self.durations))]

    @staticmethod
    def _check(schedulers: object, durations: object) -> None:
        if not isinstance(schedulers, Sequence) or len(schedulers) < 2:
            raise ValueError(f"schedulers must be a list of at least two ParamSchedulers, got {schedulers!r}.")
        for scheduler in schedulers:
            if not isinstance(scheduler, ParamScheduler):
                raise TypeError(f"schedulers must be ParamSchedulers, got {scheduler!r}.")
        if not isinstance(durations, Sequence) or len(durations) != len(schedulers) - 1:
            raise ValueError(
                f"durations must list one length per scheduler except the last ({len(schedulers) - 1} values), "
                f"got {durations!r}."
            )
        for duration in durations:
            _int_at_least("each duration", duration, 1)
        first = schedulers[0]
        for scheduler in schedulers[1:]:
            if (scheduler.optimizer, scheduler.param_name, scheduler.param_group_index) != (
                first.optimizer,
                first.param_name,
                first.param_group_index,
            ):
                raise ValueError(
                    "All schedulers of a ConcatScheduler must drive the same optimizer, param_name and "
                    f"param_group_index; {scheduler!r} differs from {first!r}."
                )

    def _active(self) -> ParamScheduler:
        return self.schedulers[bisect.bisect_right(self._ends, self.event_index)]

    def get_param(self) -> ParamValue:
        return self._active().get_param()

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
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"event_index", "schedulers"}:
            raise ValueError(
                "ConcatScheduler.load_state_dict needs exactly the keys ['event_index', 'schedulers'], "
                f"got {sorted(state_dict) if isinstance(state_dict, Mapping) else state_dict!r}."
            )
        states = state_dict["schedulers"]
        if not isinstance(states, Sequence) or len(states) != len(self.schedulers):
            raise ValueError(f"ConcatScheduler.load_state_dict needs {len(self.schedulers)} scheduler states.")
        for scheduler, state in zip(self.schedulers, states, strict=True):
            scheduler.load_state_dict(state)
        self.event_index = _int_at_least("event_index", state_dict["event_index"], 0)

    @classmethod
    def simulate_values(  # type: ignore[override]  # Ignite's signature: takes schedulers, not constructor kwargs
        cls,
        num_events: int,
        schedulers: Sequence[ParamScheduler],
        durations: Sequence[int],
        param_names: Sequence[str] | None = None,
    ) -> list[list[float]]:
        """Rows ``[event_index, value...]``; the given schedulers and optimizer are left as they were.

        ``param_names`` picks the group keys recorded (default: the schedulers' ``param_name``).
        """
        with _preserved(schedulers):
            return _simulate(cls(schedulers, durations), num_events, param_names)
