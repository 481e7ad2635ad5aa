"""Time on the engine: :class:`Timer`, :class:`TimeLimit` and :class:`HandlersTimeProfiler`."""

from __future__ import annotations

import csv
import logging
import math
import numbers
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cadence.distributed import ReduceOp, all_reduce
from cadence.engine import CallableEventWithFilter, Engine, Events, EventsList

__all__ = ["HandlersTimeProfiler", "TimeLimit", "Timer"]


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
        self.start_time = time.perf_counter()
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine[Any]) -> None:
        """Terminate ``engine`` if the time is up."""
        elapsed = time.perf_counter() - self.start_time
        if all_reduce(int(elapsed > self.limit_sec), ReduceOp.MAX):  # all ranks stop at the same iteration
            self.logger.info("TimeLimit: %.1f s limit reached after %.1f s; stopping the run.", self.limit_sec, elapsed)
            engine.terminate()


def _handler_name(handler: Callable[..., Any]) -> str:
    name = getattr(handler, "__qualname__", None)
    return name if isinstance(name, str) else type(handler).__name__


def _event_name(event: CallableEventWithFilter | EventsList | str) -> str:
    if isinstance(event, EventsList):
        return " | ".join(_event_name(e) for e in event)
    return event.name if isinstance(event, CallableEventWithFilter) else str(event).upper()


class _Stats:
    """Durations of one timed thing: total, min/max with the call index, mean, standard deviation."""

    __slots__ = ("count", "maximum", "maximum_at", "minimum", "minimum_at", "total", "total_sq")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.count = 0
        self.total = self.total_sq = 0.0
        self.minimum, self.maximum = math.inf, -math.inf
        self.minimum_at = self.maximum_at = 0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.total_sq += seconds * seconds
        if seconds < self.minimum:
            self.minimum, self.minimum_at = seconds, self.count
        if seconds > self.maximum:
            self.maximum, self.maximum_at = seconds, self.count

    def row(self, name: str, event: str) -> list[Any]:
        if not self.count:
            return [name, event, 0.0, "not triggered", "not triggered", "not triggered", "not triggered"]
        mean = self.total / self.count
        std = math.sqrt(max(self.total_sq / self.count - mean * mean, 0.0) * self.count / max(self.count - 1, 1))
        return [
            name, event, round(self.total, 5), (round(self.minimum, 5), self.minimum_at),
            (round(self.maximum, 5), self.maximum_at), round(mean, 5), round(std, 5),
        ]  # fmt: skip


class _TimedHandler:
    """Calls a handler and adds its duration to the profiler; compares equal to the handler it wraps,
    so ``has_event_handler`` and ``remove_event_handler`` work with the user's original handler."""

    def __init__(self, handler: Callable[..., Any], stats: _Stats, profiler: HandlersTimeProfiler, mark: str) -> None:
        self.__wrapped__ = handler  # inspect.signature follows this: the engine binds the original signature
        self._stats = stats
        self._profiler = profiler
        self._mark = mark

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.__wrapped__(*args, **kwargs)
        finally:
            end = time.perf_counter()
            self._stats.add(end - start)
            if self._mark:
                self._profiler._marks[self._mark] = end


class HandlersTimeProfiler:
    """Time every handler of an engine (per handler and event), the process function and the data fetch.

    It times every handler of the engine, attached before or after it (through
    :meth:`Engine.wrap_handlers`). Results are reset when a fresh run starts.

    Example:
        >>> from cadence import Events
        >>> engine = Engine(lambda engine, batch: time.sleep(0.001))
        >>> @engine.on(Events.EPOCH_COMPLETED)
        ... def log_epoch(engine):
        ...     pass
        >>> profiler = HandlersTimeProfiler()
        >>> profiler.attach(engine)
        >>> _ = engine.run(range(3), max_epochs=2)
        >>> [row[:2] for row in profiler.get_results()]
        [['log_epoch', 'EPOCH_COMPLETED'], ['Total', ''], ['Processing', 'None'], ['Dataflow', 'None']]
        >>> profiler.get_results()[2][3][0] >= 0.001  # the fastest process-function call
        True
    """

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str], _Stats] = {}
        self._processing = _Stats()
        self._dataflow = _Stats()
        self._marks: dict[str, float] = {"fetch": 0.0, "process": 0.0}
        self._engine: Engine[Any] | None = None

    def attach(self, engine: Engine[Any]) -> None:
        """Start profiling ``engine``: every handler, attached before or after, is timed."""
        if not isinstance(engine, Engine):
            raise TypeError(f"HandlersTimeProfiler attaches to a cadence Engine, got {type(engine).__name__}.")
        if self._engine is not None:
            raise ValueError("This HandlersTimeProfiler is already attached to an engine; make one per engine.")
        engine.wrap_handlers(self._wrap)  # refuses an engine that already has a profiler (or another wrapper)
        engine.add_event_handler(Events.STARTED, self._on_started)
        engine.add_event_handler(Events.GET_BATCH_STARTED, self._set_mark, "fetch")
        engine.add_event_handler(Events.GET_BATCH_COMPLETED, self._measure, "fetch", self._dataflow)
        engine.add_event_handler(Events.ITERATION_STARTED, self._set_mark, "process")
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._measure, "process", self._processing)
        self._engine = engine

    def _wrap(self, event_name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(handler, "__self__", None) is self:
            return handler  # the profiler's own timing handlers are not profiled
        stats = self._stats.setdefault((_handler_name(handler), event_name), _Stats())
        mark = {Events.GET_BATCH_STARTED.name: "fetch", Events.ITERATION_STARTED.name: "process"}.get(event_name, "")
        return _TimedHandler(handler, stats, self, mark)

    def _on_started(self, engine: Engine[Any]) -> None:
        if engine.state.iteration == 0:  # a fresh run; a resumed one keeps adding up
            for stats in [*self._stats.values(), self._processing, self._dataflow]:
                stats.clear()

    def _set_mark(self, name: str) -> None:
        self._marks[name] = time.perf_counter()

    def _measure(self, name: str, stats: _Stats) -> None:
        stats.add(time.perf_counter() - self._marks[name])

    def get_results(self) -> list[list[Any]]:
        """Rows ``[handler, event, total, (min, call), (max, call), mean, std]`` (seconds), then a
        ``Total`` row for all handlers and ``Processing`` / ``Dataflow`` rows."""
        rows = [stats.row(name, event) for (name, event), stats in self._stats.items()]
        total = sum(stats.total for stats in self._stats.values())
        rows.append(["Total", "", round(total, 5), "", "", "", ""])
        rows.append(self._processing.row("Processing", "None"))
        rows.append(self._dataflow.row("Dataflow", "None"))
        return rows

    @staticmethod
    def print_results(results: list[list[Any]]) -> str:
        """Print ``results`` (from :meth:`get_results`) as a table and return the table's text.

        Example:
            >>> _ = HandlersTimeProfiler.print_results([["log", "COMPLETED", 0.5, (0.5, 1), (0.5, 1), 0.5, 0.0]])
            Handler  Event name  Total(s)  Min(s)/IDX  Max(s)/IDX  Mean(s)  Std(s)
            -------  ----------  --------  ----------  ----------  -------  ------
            log      COMPLETED   0.5       0.5/1       0.5/1       0.5      0.0
        """
        header = ["Handler", "Event name", "Total(s)", "Min(s)/IDX", "Max(s)/IDX", "Mean(s)", "Std(s)"]

        def cell(value: Any) -> str:
            return f"{value[0]}/{value[1]}" if isinstance(value, tuple) else str(value)

        table = [header] + [[cell(v) for v in row] for row in results]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines = [
            "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip() for row in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        text = "\n".join(lines)
        print(text)
        return text

    def write_results(self, output_path: str | Path) -> None:
        """Write :meth:`get_results` to a CSV file."""
        with open(output_path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["handler", "event", "total", "min", "min_call", "max", "max_call", "mean", "std"])
            for row in self.get_results():
                flat = [row[0], row[1], row[2]]
                for value in row[3:5]:
                    flat.extend(value if isinstance(value, tuple) else (value, ""))
                writer.writerow([*flat, row[5], row[6]])
