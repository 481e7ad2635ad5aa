"""Cyclical schedules: linear (triangle) and cosine cycles, with growing cycles and warm-up between them."""

from __future__ import annotations

import math

from cadence.handlers.scheduler_base import OptimizerLike, ParamScheduler, check_integer, check_number

__all__ = ["CosineAnnealingScheduler", "CyclicalScheduler", "LinearCyclicalScheduler"]


class CyclicalScheduler(ParamScheduler):
    """Base class for schedules that repeat in cycles of ``cycle_size`` events.

    Subclasses implement :meth:`get_param`, the value at ``self.event_index`` within the current cycle
    (``self.event_index / self.cycle_size`` is the progress in ``[0, 1)``). When ``warmup_duration > 0``,
    each cycle is followed by that many events rising linearly from ``end_value`` back to the next
    cycle's start value. After each cycle the cycle and warm-up lengths are multiplied by ``cycle_mult``
    (rounded down), ``start_value`` by ``start_value_mult`` and ``end_value`` by ``end_value_mult``.
    As in Ignite, a cycle ends when the next one's first value is asked for: after the last event of a
    cycle, ``event_index`` is ``total_cycle_size`` and ``cycle`` still counts the cycle that just ended.

    Args:
        optimizer: the optimizer (or object with ``param_groups``) to schedule.
        param_name: the parameter-group key, e.g. ``"lr"``.
        start_value: the value at the start of each cycle.
        end_value: the value the cycle heads to (its middle for a triangle, its end for a cosine).
        cycle_size: events per cycle, at least 2 (usually the number of iterations of an epoch).
        cycle_mult: growth of the cycle (>= 1) after each cycle.
        start_value_mult: factor applied to ``start_value`` after each cycle.
        end_value_mult: factor applied to ``end_value`` after each cycle.
        warmup_duration: events of linear warm-up between cycles (0: none).
        save_history: record each value in ``engine.state.param_history``.
        param_group_index: schedule only this parameter group.

    Example:
        >>> class Sawtooth(CyclicalScheduler):
        ...     def get_param(self):
        ...         progress = self.event_index / self.cycle_size
        ...         return self.start_value + (self.end_value - self.start_value) * progress
        >>> [v for _, v in Sawtooth.simulate_values(5, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=2)]
        [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    _state_attrs = ("event_index", "cycle", "cycle_size", "warmup_duration", "start_value", "end_value")

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: int,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: int = 0,
        save_history: bool = False,
        param_group_index: int | None = None,
    ) -> None:
        super().__init__(optimizer, param_name, save_history=save_history, param_group_index=param_group_index)
        self.start_value = check_number("start_value", start_value)
        self.end_value = check_number("end_value", end_value)
        try:
            self.cycle_size = check_integer("cycle_size", cycle_size, 2)
        except ValueError:
            raise ValueError(
                f"Argument cycle_size should be positive and larger than 1, but given {cycle_size!r}."
            ) from None
        self.cycle_mult = check_number("cycle_mult", cycle_mult)
        if self.cycle_mult < 1.0:
            raise ValueError(
                f"Argument cycle_mult should be >= 1 (cycles may grow, not shrink), but given {cycle_mult}."
            )
        self.start_value_mult = check_number("start_value_mult", start_value_mult)
        self.end_value_mult = check_number("end_value_mult", end_value_mult)
        self.warmup_duration = check_integer("warmup_duration", warmup_duration, 0)
        self.cycle = 0

    @property
    def total_cycle_size(self) -> int:
        """Events of a whole cycle: ``cycle_size`` plus ``warmup_duration`` (both grow with ``cycle_mult``)."""
        return self.cycle_size + self.warmup_duration

    def _value(self) -> float:
        self._start_next_cycle_if_due()
        if self.event_index < self.cycle_size:
            return float(self.get_param())
        target = self.start_value * self.start_value_mult  # warm up to the next cycle's start
        fraction = (self.event_index - self.cycle_size) / self.warmup_duration
        return self.end_value + (target - self.end_value) * fraction

    def _start_next_cycle_if_due(self) -> None:
        """Begin the next cycle once the current one is over (idempotent: the index goes back to 0)."""
        if self.event_index >= self.total_cycle_size:
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
        optimizer: OptimizerLike,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: int,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: int = 0,
        save_history: bool = False,
        param_group_index: int | None = None,
        *,
        monotonic: bool = False,
    ) -> None:
        super().__init__(
            optimizer,
            param_name,
            start_value,
            end_value,
            cycle_size,
            cycle_mult,
            start_value_mult,
            end_value_mult,
            warmup_duration,
            save_history,
            param_group_index,
        )
        if self.warmup_duration > 0 and not monotonic:
            raise ValueError(
                "Invalid combination when warmup_duration > 0 and monotonic=False, "
                "please use either set warmup_duration=0 or monotonic=True (a triangle cycle already "
                "returns to its start value)."
            )
        self.monotonic = monotonic

    def get_param(self) -> float:
        progress = self.event_index / self.cycle_size
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

    def get_param(self) -> float:
        progress = self.event_index / self.cycle_size
        return self.start_value + (self.end_value - self.start_value) * (1.0 - math.cos(math.pi * progress)) / 2.0
