"""The scheduler protocol: a value per event, ``simulate_values``/``plot_values``, and ``state_dict`` for resume.

:class:`BaseParamScheduler` is what every scheduler shares (optimizer schedulers, engine-state schedulers,
the batch-size scheduler); :class:`ParamScheduler` writes its value into an optimizer's parameter groups.
Attach a scheduler to an event (``scheduler.attach(trainer, Events.ITERATION_STARTED)`` or
``trainer.add_event_handler(event, scheduler)``): each time the event fires it applies the value for
the current event index (the first call applies index 0), then moves on by one.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

import torch
from torch.optim import Optimizer

from cadence.engine import CallableEventWithFilter, Engine, EpochResumable, Events, EventsList, RemovableEventHandle

__all__ = ["BaseParamScheduler", "OptimizerLike", "ParamScheduler"]

ParamValue = Any  # a number for every parameter group, or a list with one number per group
EventLike = CallableEventWithFilter | EventsList | str


class OptimizerLike(Protocol):
    """Anything with torch's ``param_groups`` list: a torch optimizer or a wrapper (DeepSpeed, apex...).

    Example:
        >>> import torch
        >>> optimizer: OptimizerLike = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> optimizer.param_groups[0]["lr"]
        0.1
    """

    param_groups: list[dict[str, Any]]


def check_integer(name: str, value: object, minimum: int) -> int:
    """``value`` as an ``int`` (NumPy integers are welcome), or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"Argument {name} should be an integer >= {minimum}, but given {value!r}.")
    return int(value)


def check_number(name: str, value: object) -> float:
    """``value`` as a ``float`` (any real number), or a ``TypeError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument {name} should be a real number, but given {value!r}.")
    return float(value)


def history_of(engine: Engine[Any]) -> dict[str, list[Any]]:
    """``engine.state.param_history``, created empty the first time a scheduler records a value."""
    history: dict[str, list[Any]] | None = getattr(engine.state, "param_history", None)
    if history is None:
        history = {}
        setattr(engine.state, "param_history", history)  # noqa: B010  # a user attribute of State
    return history


def _import_pyplot() -> Any:
    try:
        import matplotlib.pyplot as pyplot
    except ImportError as error:
        raise ModuleNotFoundError(
            "This method requires matplotlib to be installed. Please install it with: pip install matplotlib"
        ) from error
    return pyplot


class BaseParamScheduler(ABC):
    """A schedule of values, one per event, with ``state_dict``/``load_state_dict`` for exact resume.

    Subclasses implement :meth:`get_param` (the value for ``self.event_index``), :meth:`__call__`
    and :meth:`simulate_values`. ``_state_attrs`` names the attributes that change as the schedule
    runs: they are what :meth:`state_dict` saves.

    Args:
        param_name: the name of the scheduled value, e.g. ``"lr"``.
        save_history: record each value in ``engine.state.param_history[param_name]``.

    Example:
        >>> class Countdown(BaseParamScheduler):
        ...     def get_param(self):
        ...         return 3 - self.event_index
        ...     @classmethod
        ...     def simulate_values(cls, num_events, **kwargs):
        ...         return [[i, 3 - i] for i in range(num_events)]
        >>> scheduler = Countdown("count")
        >>> scheduler.event_index = 2
        >>> scheduler.get_param(), scheduler.state_dict()
        (1, {'event_index': 2})
    """

    _state_attrs: ClassVar[tuple[str, ...]] = ("event_index",)

    def __init__(self, param_name: str, save_history: bool = False) -> None:
        if not isinstance(param_name, str):
            raise TypeError(f"Argument param_name should be a string such as 'lr', but given {param_name!r}.")
        self.param_name = param_name
        self.save_history = save_history
        self.event_index = 0

    @abstractmethod
    def get_param(self) -> Any:
        """The value for the current event."""

    @classmethod
    @abstractmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """Rows ``[event_index, value]`` for the first ``num_events`` events of a new scheduler."""

    @classmethod
    def plot_values(cls, num_events: int, **scheduler_kwargs: Any) -> Any:
        """Plot :meth:`simulate_values` with matplotlib (imported here: ``pip install matplotlib``).

        Returns the list of ``Line2D`` that ``pyplot.plot`` gives.
        """
        pyplot = _import_pyplot()
        rows = cls.simulate_values(num_events, **scheduler_kwargs)
        label = scheduler_kwargs.get("param_name", "learning rate")
        lines = pyplot.plot([row[0] for row in rows], [row[1] for row in rows], label=label)
        pyplot.legend()
        pyplot.grid(which="both")
        return lines

    def state_dict(self) -> dict[str, Any]:
        """The position in the schedule (and anything else the schedule changes as it goes)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self._state_attrs}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict`; the keys are checked before anything changes."""
        self._check_state_keys(state_dict, self._state_attrs)
        for name in self._state_attrs:
            setattr(self, name, copy.deepcopy(state_dict[name]))

    def _check_state_keys(self, state_dict: object, required: Sequence[str]) -> None:
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Argument state_dict should be a dictionary, but given {type(state_dict).__name__}.")
        for name in required:
            if name not in state_dict:
                raise ValueError(
                    f"Required state attribute {name!r} is absent in provided state_dict {sorted(state_dict)}; "
                    f"was it saved from another kind of scheduler than {type(self).__name__}?"
                )
        unexpected = sorted(set(state_dict) - set(required))
        if unexpected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: unexpected keys {unexpected} (expected {sorted(required)}); "
                "was the state saved from another kind of scheduler?"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(param_name={self.param_name!r}, event_index={self.event_index})"


def fake_optimizer(param_name: str = "lr", value: float = 0.0) -> Optimizer:
    """A one-parameter SGD optimizer whose group holds ``param_name``: what ``simulate_values`` schedules."""
    optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.0)
    optimizer.param_groups[0][param_name] = value
    return optimizer


@contextmanager
def preserved(schedulers: Sequence[Any]) -> Iterator[None]:
    """Run a block (a simulation), then put the schedulers and their optimizers' groups back as they were."""
    states = [copy.deepcopy(s.state_dict()) for s in schedulers]
    optimizers: dict[int, OptimizerLike] = {}
    for scheduler in schedulers:
        owned = scheduler.optimizer if isinstance(scheduler.optimizer, list) else [scheduler.optimizer]
        optimizers.update((id(o), o) for o in owned)
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


def simulate(scheduler: Any, num_events: int, param_names: Sequence[str] | None = None) -> list[list[Any]]:
    """Call ``scheduler`` ``num_events`` times; rows ``[event_index, value per name and group]``."""
    check_integer("num_events", num_events, 0)
    names = [scheduler.param_name] if param_names is None else list(param_names)
    rows: list[list[Any]] = []
    for index in range(num_events):
        scheduler(None)
        groups = scheduler.optimizer_param_groups
        rows.append([index, *(group[name] for name in names for group in groups)])
    return rows


class ParamScheduler(BaseParamScheduler, EpochResumable):
    """Base class: a schedule for one optimizer parameter (``"lr"``, ``"momentum"``...), advanced by one per call.

    Subclasses implement :meth:`get_param`. Each call writes the value to the optimizer's parameter
    groups (all of them, or only ``param_group_index``), records it in ``engine.state.param_history``
    when ``save_history`` is set, and moves to the next event. On the ``STARTED``/``EPOCH_STARTED`` of
    an epoch that a run continues, the engine calls :meth:`~cadence.engine.EpochResumable.resume_epoch`
    instead, which does nothing: the epoch's value was applied before the run stopped (and the
    optimizer's state restored with it).

    Args:
        optimizer: a torch optimizer, or any object with a ``param_groups`` list.
        param_name: the parameter-group key to schedule; every scheduled group must have it.
        save_history: record each value in ``engine.state.param_history[param_name]``.
        param_group_index: schedule only this parameter group (default: all groups).

    Example:
        >>> class Halving(ParamScheduler):
        ...     def get_param(self):
        ...         return 1.0 / 2**self.event_index
        >>> Halving.simulate_values(3, param_name="lr")
        [[0, 1.0], [1, 0.5], [2, 0.25]]
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        super().__init__(param_name, save_history)
        if not (isinstance(optimizer, Optimizer) or isinstance(getattr(optimizer, "param_groups", None), Sequence)):
            raise TypeError(
                "Argument optimizer should be torch.optim.Optimizer or has attribute 'param_groups' as list/tuple, "
                f"but given {type(optimizer).__name__}."
            )
        if param_group_index is not None:
            count = len(optimizer.param_groups)
            if isinstance(param_group_index, bool) or not isinstance(param_group_index, numbers.Integral):
                raise TypeError(f"Argument param_group_index should be None or an integer, got {param_group_index!r}.")
            if not 0 <= param_group_index < count:
                raise ValueError(
                    f"Argument param_group_index should be below {count} (the optimizer's number of parameter "
                    f"groups), but given {param_group_index}."
                )
            param_group_index = int(param_group_index)
        self.optimizer = optimizer
        self.param_group_index = param_group_index

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups this scheduler writes to."""
        groups = self.optimizer.param_groups
        return groups if self.param_group_index is None else [groups[self.param_group_index]]

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        self._apply(self._value())
        self._record(engine, name)
        self._advance()

    def attach(self, engine: Engine[Any], event: EventLike = Events.ITERATION_STARTED) -> RemovableEventHandle:
        """Call this scheduler each time ``event`` fires on ``engine``; return the removable handle."""
        return engine.add_event_handler(event, self)

    def _value(self) -> ParamValue:
        """The value applied at the current event (subclasses may wrap :meth:`get_param`, e.g. a warm-up)."""
        return self.get_param()

    def _apply(self, value: ParamValue) -> None:
        groups = self.optimizer_param_groups
        if isinstance(value, list | tuple):
            if len(value) != len(groups):
                raise ValueError(
                    f"size of value is different than optimizer_param_groups: {type(self).__name__} gave "
                    f"{len(value)} values for {len(groups)} parameter groups."
                )
            values = list(value)
        else:
            values = [value] * len(groups)
        for index, (group, group_value) in enumerate(zip(groups, values, strict=True)):
            if self.param_name not in group:
                known = sorted(k for k in group if k != "params")
                raise ValueError(
                    f"Parameter group {index} of the optimizer has no {self.param_name!r} (it has {known}); "
                    "fix param_name, or add the key to the parameter group first."
                )
            group[self.param_name] = group_value

    def _record(self, engine: Engine[Any] | None, name: str | None) -> None:
        if self.save_history and engine is not None:
            values = [group[self.param_name] for group in self.optimizer_param_groups]
            history_of(engine).setdefault(name or self.param_name, []).append(values)

    def _advance(self) -> None:
        """Move to the next event without touching the optimizer."""
        self.event_index += 1

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """Rows ``[event_index, value]`` for the first ``num_events`` events, on a throw-away optimizer.

        ``scheduler_kwargs`` are the constructor's arguments; ``optimizer`` and ``save_history`` are ignored.
        """
        kwargs = {k: v for k, v in scheduler_kwargs.items() if k not in ("optimizer", "save_history")}
        optimizer = fake_optimizer(kwargs.get("param_name", "lr"))
        return simulate(cls(optimizer, **kwargs), num_events)
