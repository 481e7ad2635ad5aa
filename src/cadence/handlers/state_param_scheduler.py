"""Schedulers of values kept on ``engine.state`` (an EMA decay, a loss weight, a temperature...).

A state scheduler sets ``engine.state.<param_name>`` each time its event fires, so that the process
function and other handlers read the current value there. Unlike optimizer schedulers, the first
call applies the value of event index 1: after n events the attribute holds the value for n.
"""

from __future__ import annotations

import bisect
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from cadence.engine import CallableEventWithFilter as CallableEventWithFilter
from cadence.engine import Engine, EpochResumable, Events, RemovableEventHandle
from cadence.engine import EventsList as EventsList
from cadence.handlers.piecewise_linear import interpolate, parse_milestones
from cadence.handlers.scheduler_base import BaseParamScheduler, EventLike, check_integer, check_number, history_of

__all__ = [
    "ExpStateScheduler",
    "LambdaStateScheduler",
    "MultiStepStateScheduler",
    "PiecewiseLinearStateScheduler",
    "StateParamScheduler",
    "StepStateScheduler",
]


class StateParamScheduler(BaseParamScheduler, EpochResumable):
    """Base class: a schedule for the attribute ``engine.state.<param_name>``.

    Subclasses implement :meth:`get_param`, the value for ``self.event_index``.

    Args:
        param_name: the attribute of ``engine.state`` to set.
        save_history: record each value in ``engine.state.param_history[param_name]``.
        create_new: the attribute must not exist yet (another handler would own it); without it,
            a missing attribute is created with a warning.

    Example:
        >>> class Doubling(StateParamScheduler):
        ...     def get_param(self):
        ...         return 2**self.event_index
        >>> Doubling.simulate_values(3, param_name="accumulation_steps")
        [[0, 2], [1, 4], [2, 8]]
    """

    def __init__(self, param_name: str, save_history: bool = False, create_new: bool = False) -> None:
        super().__init__(param_name, save_history)
        self.create_new = create_new

    def attach(self, engine: Engine[Any], event: EventLike = Events.ITERATION_COMPLETED) -> RemovableEventHandle:
        """Set ``engine.state.<param_name>`` each time ``event`` fires; return the removable handle."""
        if hasattr(engine.state, self.param_name):
            if self.create_new:
                raise ValueError(
                    f"Attribute '{self.param_name}' already exists in the engine.state. This may be a conflict "
                    "between multiple handlers. Please choose another name."
                )
        else:
            if not self.create_new:
                warnings.warn(
                    f"Attribute '{self.param_name}' is not defined in the engine.state. {type(self).__name__} will "
                    "create it. Remove this warning by setting create_new=True.",
                    UserWarning,
                    stacklevel=2,
                )
            setattr(engine.state, self.param_name, None)
        if self.save_history:
            history_of(engine).setdefault(self.param_name, [])
        return engine.add_event_handler(event, self)

    def resume_epoch(self, engine: Engine[Any]) -> None:
        """Set this epoch's value again, without a step, when a run continues an epoch begun earlier (see
        :class:`~cadence.engine.EpochResumable`): the value is on ``engine.state`` in a new process too.

        Example:
            >>> from cadence import Engine, Events
            >>> engine = Engine(lambda engine, batch: None)
            >>> scheduler = LambdaStateScheduler(lambda event: 10 * event, param_name="weight", create_new=True)
            >>> _ = scheduler.attach(engine, Events.EPOCH_STARTED)
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
            >>> _ = engine.run([1, 2, 3], max_epochs=2)  # stops during epoch 1
            >>> engine.state.weight = None  # e.g. a new process, whose state does not have it
            >>> _ = engine.add_event_handler(Events.ITERATION_STARTED(once=3), lambda e: print(e.state.weight))
            >>> _ = engine.run([1, 2, 3], max_epochs=2)  # epoch 1 goes on with its value, then epoch 2
            10
        """
        setattr(engine.state, self.param_name, self.get_param())

    def __call__(self, engine: Engine[Any]) -> None:
        self.event_index += 1
        value = self.get_param()
        setattr(engine.state, self.param_name, value)
        if self.save_history:
            history_of(engine).setdefault(self.param_name, []).append(value)

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """Rows ``[event_index, value]`` for the first ``num_events`` events (``save_history`` is ignored)."""
        check_integer("num_events", num_events, 0)
        kwargs = {k: v for k, v in scheduler_kwargs.items() if k != "save_history"}
        scheduler = cls(**kwargs)
        engine: Engine[Any] = Engine(lambda engine, batch: None)
        rows: list[list[Any]] = []
        for index in range(num_events):
            scheduler(engine)
            rows.append([index, getattr(engine.state, scheduler.param_name)])
        return rows


class LambdaStateScheduler(StateParamScheduler):
    """The value is ``lambda_obj(event_index)``; make ``lambda_obj`` a picklable object to save the scheduler.

    Args:
        lambda_obj: a callable taking the event index.
        param_name, save_history, create_new: see :class:`StateParamScheduler`.

    Example:
        >>> LambdaStateScheduler.simulate_values(3, lambda_obj=lambda i: 10 * i, param_name="weight")
        [[0, 10], [1, 20], [2, 30]]
    """

    def __init__(
        self,
        lambda_obj: Callable[[int], Any],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ) -> None:
        super().__init__(param_name, save_history, create_new)
        if not callable(lambda_obj):
            raise ValueError(f"Expected lambda_obj to be callable, but given {type(lambda_obj).__name__}.")
        self.lambda_obj = lambda_obj

    def get_param(self) -> Any:
        return self.lambda_obj(self.event_index)


class PiecewiseLinearStateScheduler(StateParamScheduler):
    """Linear interpolation between ``(event_index, value)`` milestones, held flat outside them.

    Args:
        milestones_values: the ``(event_index, value)`` pairs, milestones in non-decreasing order.
        param_name, save_history, create_new: see :class:`StateParamScheduler`.

    Example:
        >>> PiecewiseLinearStateScheduler.simulate_values(
        ...     4, milestones_values=[(1, 0.0), (3, 1.0)], param_name="ema_decay")
        [[0, 0.0], [1, 0.5], [2, 1.0], [3, 1.0]]
    """

    def __init__(
        self,
        milestones_values: Sequence[tuple[int, float]],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ) -> None:
        super().__init__(param_name, save_history, create_new)
        self.milestones, self.values = parse_milestones(milestones_values)

    def get_param(self) -> float:
        return interpolate(self.milestones, self.values, self.event_index)


class ExpStateScheduler(StateParamScheduler):
    """Exponential decay: ``initial_value * gamma ** event_index``.

    Args:
        initial_value: the value at event index 0.
        gamma: the factor per event.
        param_name, save_history, create_new: see :class:`StateParamScheduler`.

    Example:
        >>> ExpStateScheduler.simulate_values(2, initial_value=1.0, gamma=0.5, param_name="temperature")
        [[0, 0.5], [1, 0.25]]
    """

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ) -> None:
        super().__init__(param_name, save_history, create_new)
        self.initial_value = check_number("initial_value", initial_value)
        self.gamma = check_number("gamma", gamma)

    def get_param(self) -> float:
        return self.initial_value * self.gamma**self.event_index


class StepStateScheduler(StateParamScheduler):
    """Step decay: the value is multiplied by ``gamma`` every ``step_size`` events.

    Args:
        initial_value: the value at event index 0.
        gamma: the factor per step.
        step_size: events per step, at least 1.
        param_name, save_history, create_new: see :class:`StateParamScheduler`.

    Example:
        >>> StepStateScheduler.simulate_values(4, initial_value=1.0, gamma=0.5, step_size=2, param_name="weight")
        [[0, 1.0], [1, 0.5], [2, 0.5], [3, 0.25]]
    """

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        step_size: int,
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ) -> None:
        super().__init__(param_name, save_history, create_new)
        self.initial_value = check_number("initial_value", initial_value)
        self.gamma = check_number("gamma", gamma)
        self.step_size = check_integer("step_size", step_size, 1)

    def get_param(self) -> float:
        return self.initial_value * self.gamma ** (self.event_index // self.step_size)


class MultiStepStateScheduler(StateParamScheduler):
    """The value is multiplied by ``gamma`` at each milestone (an event index).

    Args:
        initial_value: the value at event index 0.
        gamma: the factor per milestone passed.
        milestones: increasing event indices.
        param_name, save_history, create_new: see :class:`StateParamScheduler`.

    Example:
        >>> MultiStepStateScheduler.simulate_values(
        ...     4, initial_value=1.0, gamma=0.1, milestones=[2], param_name="weight")
        [[0, 1.0], [1, 0.1], [2, 0.1], [3, 0.1]]
    """

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        milestones: Sequence[int],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ) -> None:
        super().__init__(param_name, save_history, create_new)
        self.initial_value = check_number("initial_value", initial_value)
        self.gamma = check_number("gamma", gamma)
        self.milestones = self._check_milestones(milestones)

    @staticmethod
    def _check_milestones(milestones: object) -> list[int]:
        if isinstance(milestones, str) or not isinstance(milestones, Sequence):
            raise TypeError(f"Argument milestones should be a list of event indices, but given {milestones!r}.")
        checked: list[int] = []
        for milestone in milestones:
            if isinstance(milestone, bool) or not isinstance(milestone, numbers.Integral):
                raise TypeError(f"Each milestone should be an integer (an event index), but given {milestone!r}.")
            if checked and milestone <= checked[-1]:
                raise ValueError(f"Argument milestones should be increasing integers, but given {list(milestones)}.")
            checked.append(int(milestone))
        return checked

    def get_param(self) -> float:
        return self.initial_value * self.gamma ** bisect.bisect_right(self.milestones, self.event_index)
