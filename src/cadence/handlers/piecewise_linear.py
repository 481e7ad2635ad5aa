"""Piecewise-linear schedules: straight lines between ``(event_index, value)`` milestones."""

from __future__ import annotations

import bisect
import numbers
from collections.abc import Sequence

from cadence.handlers.scheduler_base import OptimizerLike, ParamScheduler, check_number

__all__ = ["PiecewiseLinear", "interpolate", "parse_milestones"]


def parse_milestones(milestones_values: object) -> tuple[list[int], list[float]]:
    """Check ``[(milestone, value), ...]`` and split it into milestones and values.

    Milestones are non-negative integers (NumPy integers too) in non-decreasing order.

    Example:
        >>> parse_milestones([(0, 1.0), (10, 0.5)])
        ([0, 10], [1.0, 0.5])
    """
    if isinstance(milestones_values, str) or not isinstance(milestones_values, Sequence):
        raise TypeError(
            f"Argument milestones_values should be a list or tuple, but given {type(milestones_values).__name__}."
        )
    if len(milestones_values) < 1:
        raise ValueError(
            f"Argument milestones_values should be with at least one value, but given {milestones_values}."
        )
    milestones: list[int] = []
    values: list[float] = []
    for pair in milestones_values:
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(
                f"Argument milestones_values should be a list of pairs (milestone, param_value), but one is {pair!r}."
            )
        milestone, value = pair
        if isinstance(milestone, bool) or not isinstance(milestone, numbers.Integral):
            raise TypeError(f"Value of a milestone should be integer (an event index), but given {milestone!r}.")
        if milestone < 0:
            raise ValueError(f"Milestones should be non-negative event indices, but given {milestone}.")
        if milestones and milestone < milestones[-1]:
            raise ValueError(
                f"Milestones should be increasing integers, but given {milestone} is smaller than the previous "
                f"milestone {milestones[-1]}; sort milestones_values by milestone."
            )
        milestones.append(int(milestone))
        values.append(check_number("milestone value", value))
    return milestones, values


def interpolate(milestones: Sequence[int], values: Sequence[float], index: int) -> float:
    """The value at ``index``: the first value before the first milestone, the last after the last.

    A repeated milestone makes a jump: the later pair wins from that index on.

    Example:
        >>> interpolate([2, 4], [0.0, 1.0], 3)
        0.5
    """
    position = bisect.bisect_right(milestones, index) - 1
    if position < 0:
        return values[0]
    if position == len(milestones) - 1:
        return values[-1]
    start, end = milestones[position], milestones[position + 1]
    return values[position] + (values[position + 1] - values[position]) * (index - start) / (end - start)


class PiecewiseLinear(ParamScheduler):
    """Set an optimizer parameter by linear interpolation between ``(event_index, value)`` milestones.

    Before the first milestone the value is the first value; after the last, the last value.
    Milestones are non-negative integers in non-decreasing order; a repeated milestone makes a jump.

    Args:
        optimizer: the optimizer (or object with ``param_groups``) to schedule.
        param_name: the parameter-group key, e.g. ``"lr"``.
        milestones_values: the ``(event_index, value)`` pairs.
        save_history: record each value in ``engine.state.param_history``.
        param_group_index: schedule only this parameter group.

    Example:
        >>> rows = PiecewiseLinear.simulate_values(
        ...     6, param_name="lr", milestones_values=[(1, 1.0), (3, 0.0), (4, 0.5)])
        >>> [v for _, v in rows]
        [1.0, 1.0, 0.5, 0.0, 0.5, 0.5]
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        milestones_values: Sequence[tuple[int, float]],
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        super().__init__(optimizer, param_name, save_history=save_history, param_group_index=param_group_index)
        self.milestones, self.values = parse_milestones(milestones_values)

    def get_param(self) -> float:
        return interpolate(self.milestones, self.values, self.event_index)
