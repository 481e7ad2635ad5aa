"""Time on the engine: :class:`Timer` and :class:`TimeLimit` (the profilers are in
:mod:`cadence.handlers.time_profilers`)."""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Mapping
from typing import Any

from cadence.distributed import ReduceOp, all_reduce
from cadence.engine import CallableEventWithFilter, Engine, Events

__all__ = ["TimeLimit", "Timer"]


class Timer:
    """A stopwatch driven by engine events; ``value()`` is the elapsed seconds (per step if ``average``).

    ``attach`` connects ``start`` to :meth:`reset`, ``pause`` to :meth:`pause`, and optionally ``resume``
    and ``step``. A new timer is running from its creation.

    Example:
        >>> from cadence import Events
        >>> engine = Engine(lambda engine, batch: time.sleep(0.001))
        >>> timer = Timer(average=True).attach(
        ...     engine, start=Events.EPOCH_STARTED, resume=Events.ITERATION_STARTED,
        ...     pause=Events.ITERATION_COMPLETED, step=Events.ITERATION_COMPLETED)
        >>> _ = engine.run(range(5))
        >>> timer.step_count, 0.001 <= timer.value() < 1.0
        (5, True)
    """

    def __init__(self, average: bool = False) -> None:
        self._average = average
        self.reset()

    def attach(
        self,
        engine: Engine[Any],
        start: CallableEventWithFilter = Events.STARTED,
        pause: CallableEventWithFilter = Events.COMPLETED,
        resume: CallableEventWithFilter | None = None,
        step: CallableEventWithFilter | None = None,
    ) -> Timer:
        """Drive this timer with ``engine``'s events and return it."""
        engine.add_event_handler(start, self.reset)
        engine.add_event_handler(pause, self.pause)
        if resume is not None:
            engine.add_event_handler(resume, self.resume)
        if step is not None:
            engine.add_event_handler(step, self.step)
        return self

    def reset(self, *args: Any) -> Timer:
        """Set the elapsed time and step count to zero and start running."""
        self._t0 = time.perf_counter()
        self.total = 0.0
        self.step_count = 0
        self.running = True
        return self

    def pause(self, *args: Any) -> None:
        """Stop counting time (no effect when paused)."""
        if self.running:
            self.total += time.perf_counter() - self._t0
            self.running = False

    def resume(self, *args: Any) -> None:
        """Count time again (no effect when running)."""
        if not self.running:
            self.running = True
            self._t0 = time.perf_counter()

    def step(self, *args: Any) -> None:
        """Count one step (the denominator of the average)."""
        self.step_count += 1

    def value(self) -> float:
        """Seconds counted so far, divided by the step count (at least 1) if ``average``."""
        total = self.total + (time.perf_counter() - self._t0 if self.running else 0.0)
        return total / max(self.step_count, 1) if self._average else total

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"total": seconds, "step_count": n}`` (a running timer's time up to now).

        Example:
            >>> sorted(Timer().state_dict())
            ['step_count', 'total']
        """
        elapsed = self.total + (time.perf_counter() - self._t0 if self.running else 0.0)
        return {"total": elapsed, "step_count": self.step_count}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the time and steps saved by :meth:`state_dict`; the timer is then paused.

        Example:
            >>> timer = Timer(average=True)
            >>> timer.load_state_dict({"total": 6.0, "step_count": 3})
            >>> timer.value()
            2.0
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"total", "step_count"}:
            raise ValueError(f"Timer state_dict must have keys 'total' and 'step_count', got {state_dict!r}.")
        total, steps = state_dict["total"], state_dict["step_count"]
        if isinstance(total, bool) or not isinstance(total, numbers.Real) or total < 0:
            raise ValueError(f"Timer state_dict: total must be a number >= 0, got {total!r}.")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"Timer state_dict: step_count must be an integer >= 0, got {steps!r}.")
        self.total, self.step_count, self.running = float(total), steps, False


class TimeLimit:
    """Terminate the engine once ``limit_sec`` seconds have passed since this handler was created.

    Attach it to ``ITERATION_COMPLETED`` (or any event) of the trainer. In a distributed run all
    ranks stop together once any rank is over the limit.

    Example:
        >>> from cadence import Events
        >>> engine = Engine(lambda engine, batch: time.sleep(0.02))
        >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED, TimeLimit(0.05))
        >>> engine.run(range(100)).iteration < 100
        True
    """

    limit_sec: float | int
    start_time: float
    logger: logging.Logger

    def __init__(self, limit_sec: float = 28800) -> None:
        if isinstance(limit_sec, bool) or not isinstance(limit_sec, numbers.Real):
            raise TypeError(f"Argument limit_sec should be an integer (or a number of seconds), got {limit_sec!r}.")
        if not limit_sec > 0:
            raise ValueError(f"Argument limit_sec should be a positive integer (seconds), got {limit_sec!r}.")
        self.limit_sec = limit_sec
        #: When the limit's clock started, in ``time.time()`` seconds (as Ignite; set it anew to restart it).
        self.start_time = time.time()
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine[Any]) -> None:
        """Terminate ``engine`` if the time is up."""
        elapsed = time.time() - self.start_time
        if all_reduce(int(elapsed > self.limit_sec), ReduceOp.MAX):  # all ranks stop at the same iteration
            self.logger.info("TimeLimit: %.1f s limit reached after %.1f s; stopping the run.", self.limit_sec, elapsed)
            engine.terminate()
