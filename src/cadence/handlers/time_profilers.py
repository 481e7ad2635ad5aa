"""Where the time of a run goes: :class:`BasicTimeProfiler` (per event) and :class:`HandlersTimeProfiler`
(per handler), both also timing the process function and the data fetch of each iteration.

Both wrap every handler of the engine through :meth:`Engine.wrap_handlers` (one profiler per engine).
The process function's time runs from the end of the last ``ITERATION_STARTED`` handler to the start
of the first ``ITERATION_COMPLETED`` handler (custom events fired inside it count towards it); the data
fetch's, from the end of the last ``GET_BATCH_STARTED`` handler to the start of the first
``GET_BATCH_COMPLETED`` handler. Results are cleared when a fresh run starts and add up across a resume.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from cadence.engine import CallableEventWithFilter, Engine, Events
from cadence.engine import EventEnum as EventEnum  # Ignite's module has it, and Timer
from cadence.handlers.timing import Timer as Timer

__all__ = ["BasicTimeProfiler", "HandlersTimeProfiler"]

_FETCH, _PROCESS = "fetch", "process"
_STARTED = Events.STARTED.name
# Which pending measurement a handler of these events opens (at its end) or closes (at its start).
_OPENS = {Events.GET_BATCH_STARTED.name: _FETCH, Events.ITERATION_STARTED.name: _PROCESS}
_CLOSES = {Events.GET_BATCH_COMPLETED.name: _FETCH, Events.ITERATION_COMPLETED.name: _PROCESS}


EventKey = CallableEventWithFilter | str  # an event as registered: an Events (or EventEnum) member, or a string


def _handler_name(handler: Callable[..., Any]) -> str:
    name = getattr(handler, "__qualname__", None)
    return name if isinstance(name, str) else type(handler).__name__


def _event_name(event: EventKey) -> str:
    return event if isinstance(event, str) else event.name


class _TimedHandler:
    """Calls a handler and reports its duration; compares equal to the handler it wraps (``__wrapped__``),
    so ``has_event_handler`` and ``remove_event_handler`` work with the user's original handler."""

    def __init__(self, handler: Callable[..., Any], event: EventKey, profiler: _Profiler) -> None:
        self.__wrapped__ = handler  # inspect.signature follows this: the engine binds the original signature
        self._event = event
        self._started = _event_name(event) == _STARTED
        self._profiler = profiler
        self._closes = _CLOSES.get(_event_name(event))
        self._opens = _OPENS.get(_event_name(event))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._started:
            self._profiler._run_starts()
        start = time.perf_counter()
        if self._closes is not None:
            self._profiler._close_at(self._closes, start)
        try:
            return self.__wrapped__(*args, **kwargs)
        finally:
            end = time.perf_counter()
            if not self._started:
                self._profiler._in_started = False
            self._profiler._record(self.__wrapped__, self._event, end - start)
            if self._opens is not None:
                self._profiler._pending[self._opens] = end


class _Profiler:
    """What both profilers share: wrapping the handlers, and timing the process function and the data fetch."""

    def __init__(self) -> None:
        self._engine: Engine[Any] | None = None
        self._pending: dict[str, float | None] = {_FETCH: None, _PROCESS: None}
        self._in_started = False  # within the STARTED handlers of a run, where a fresh run clears the results

    def attach(self, engine: Engine[Any]) -> None:
        """Start profiling ``engine``: every handler, attached before or after, is timed."""
        if not isinstance(engine, Engine):
            raise TypeError(
                f"Argument engine should be ignite.engine.Engine (a cadence Engine), but given {type(engine)}"
            )
        if self._engine is engine:
            return
        if self._engine is not None:
            raise ValueError(f"This {type(self).__name__} is already attached to an engine; make one per engine.")
        engine.wrap_handlers(self._wrap)  # refuses an engine that already has a profiler (or another wrapper)
        engine.add_event_handler(Events.STARTED, self._on_started)
        engine.add_event_handler(Events.GET_BATCH_STARTED, self._open, _FETCH)
        engine.add_event_handler(Events.GET_BATCH_COMPLETED, self._close, _FETCH)
        engine.add_event_handler(Events.ITERATION_STARTED, self._open, _PROCESS)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._close, _PROCESS)
        self._engine = engine

    def _wrap(self, event: EventKey, handler: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(handler, "__self__", None) is self:
            return handler  # the profiler's own handlers are not profiled
        self._register(handler, event)
        return _TimedHandler(handler, event, self)

    def _on_started(self) -> None:
        self._run_starts()

    def _run_starts(self) -> None:
        """Called by the first STARTED handler of a run, whichever it is."""
        if not self._in_started:
            self._in_started = True
            if self._engine is not None and self._engine.state.iteration == 0:  # a resumed run keeps adding up
                self._clear()

    def _open(self, name: str) -> None:
        self._in_started = False
        self._pending[name] = time.perf_counter()

    def _close(self, name: str) -> None:
        self._in_started = False
        self._close_at(name, time.perf_counter())

    def _close_at(self, name: str, now: float) -> None:
        started = self._pending[name]
        if started is not None:
            self._pending[name] = None
            self._measured(name, now - started)

    # What each profiler keeps.
    def _register(self, handler: Callable[..., Any], event: EventKey) -> None: ...
    def _record(self, handler: Callable[..., Any], event: EventKey, seconds: float) -> None: ...
    def _measured(self, name: str, seconds: float) -> None: ...
    def _clear(self) -> None: ...


def _write_csv(output_path: str | Path, header: Sequence[str], columns: Sequence[Sequence[float]]) -> None:
    rows = max((len(column) for column in columns), default=0)
    with open(output_path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for index in range(rows):
            writer.writerow([column[index] if index < len(column) else 0.0 for column in columns])


def _handler_stats(times: Sequence[float]) -> list[Any]:
    data = [t for t in times if t > 0]
    if not data:
        return ["not triggered", ("None", "None"), ("None", "None"), "None", "None"]
    mean = sum(data) / len(data)
    std = math.sqrt(sum((t - mean) ** 2 for t in data) / (len(data) - 1)) if len(data) > 1 else "None"
    low, high = min(range(len(data)), key=data.__getitem__), max(range(len(data)), key=data.__getitem__)
    return [
        round(sum(data), 5), (round(data[low], 5), low), (round(data[high], 5), high), round(mean, 5),
        std if isinstance(std, str) else round(std, 5),
    ]  # fmt: skip


class HandlersTimeProfiler(_Profiler):
    """Time every handler of an engine (per handler and event), the process function and the data fetch.

    Example:
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

    #: A call of a filtered handler shorter than this is not counted (Ignite's threshold, spelled as in Ignite).
    EVENT_FILTER_THESHOLD_TIME = 0.0001

    def __init__(self) -> None:
        super().__init__()
        #: Seconds of each call, by event (as registered: an ``Events`` member or a custom event) and handler name.
        self.event_handlers_times: dict[EventKey, dict[str, list[float]]] = {}
        #: The names of the profiled handlers of each event, in the order they were attached.
        self.event_handlers_names: dict[EventKey, list[str]] = {}
        self.processing_times: list[float] = []
        self.dataflow_times: list[float] = []

    def _register(self, handler: Callable[..., Any], event: EventKey) -> None:
        self.event_handlers_names.setdefault(event, []).append(_handler_name(handler))
        self.event_handlers_times.setdefault(event, {}).setdefault(_handler_name(handler), [])

    def _record(self, handler: Callable[..., Any], event: EventKey, seconds: float) -> None:
        self.event_handlers_times.setdefault(event, {}).setdefault(_handler_name(handler), []).append(seconds)

    def _measured(self, name: str, seconds: float) -> None:
        (self.processing_times if name == _PROCESS else self.dataflow_times).append(seconds)

    def _clear(self) -> None:
        for per_handler in self.event_handlers_times.values():
            for times in per_handler.values():
                times.clear()
        self.processing_times.clear()
        self.dataflow_times.clear()

    def get_results(self) -> list[list[Any]]:
        """Rows ``[handler, event, total, (min, index), (max, index), mean, std]`` (seconds; ``"not triggered"``
        for a handler never called), then a ``Total`` row for all handlers, and ``Processing`` and ``Dataflow``."""
        rows = [
            [name, _event_name(event), *_handler_stats(times)]
            for event, per_handler in self.event_handlers_times.items()
            for name, times in per_handler.items()
        ]
        total = sum(sum(times) for per_handler in self.event_handlers_times.values() for times in per_handler.values())
        rows.append(["Total", "", round(total, 5), "", "", "", ""])
        rows.append(["Processing", "None", *_handler_stats(self.processing_times)])
        rows.append(["Dataflow", "None", *_handler_stats(self.dataflow_times)])
        return rows

    @staticmethod
    def print_results(results: list[list[Any]]) -> str:
        """Print ``results`` (from :meth:`get_results`) as a table and return the table's text.

        Example:
            >>> _ = HandlersTimeProfiler.print_results([["log", "COMPLETED", 0.5, (0.5, 0), (0.5, 0), 0.5, "None"]])
            Handler  Event name  Total(s)  Min(s)/IDX  Max(s)/IDX  Mean(s)  Std(s)
            -------  ----------  --------  ----------  ----------  -------  ------
            log      COMPLETED   0.5       0.5/0       0.5/0       0.5      None
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
        """Write every measured time to a CSV file: a ``#`` column, ``processing_stats``, ``dataflow_stats``,
        then one ``handler (EVENT)`` column per handler; one row per call (shorter columns padded with 0)."""
        header = ["#", "processing_stats", "dataflow_stats"]
        columns: list[Sequence[float]] = [self.processing_times, self.dataflow_times]
        for event, per_handler in self.event_handlers_times.items():
            for name, times in per_handler.items():
                header.append(f"{name} ({_event_name(event)})")
                columns.append(times)
        rows = max((len(column) for column in columns), default=0)
        _write_csv(output_path, header, [[float(i) for i in range(1, rows + 1)], *columns])


#: The events whose handlers :class:`BasicTimeProfiler` times, and the state counter of each occurrence.
_BASIC_EVENTS = {
    Events.STARTED.name: None,
    Events.EPOCH_STARTED.name: "epoch",
    Events.ITERATION_STARTED.name: "iteration",
    Events.ITERATION_COMPLETED.name: "iteration",
    Events.EPOCH_COMPLETED.name: "epoch",
    Events.COMPLETED.name: None,
    Events.GET_BATCH_STARTED.name: "batch",  # a batch is fetched before its iteration is counted
    Events.GET_BATCH_COMPLETED.name: "batch",
}


def _basic_stats(times: Sequence[float]) -> dict[str, Any]:
    data = [t for t in times if t > 0]
    if not data:
        return {"total": "not yet triggered"}
    stats: dict[str, Any] = {"total": sum(data)}
    if len(data) > 1:
        mean = sum(data) / len(data)
        low, high = min(range(len(data)), key=data.__getitem__), max(range(len(data)), key=data.__getitem__)
        stats["min/index"] = (data[low], low)
        stats["max/index"] = (data[high], high)
        stats["mean"] = mean
        stats["std"] = math.sqrt(sum((t - mean) ** 2 for t in data) / (len(data) - 1))
    return stats


class BasicTimeProfiler(_Profiler):
    """Time the handlers of each standard event (all of an event's handlers together, per occurrence),
    the process function and the data fetch of each iteration.

    Example:
        >>> engine = Engine(lambda engine, batch: time.sleep(0.001))
        >>> _ = engine.on(Events.EPOCH_COMPLETED)(lambda: time.sleep(0.002))
        >>> profiler = BasicTimeProfiler()
        >>> profiler.attach(engine)
        >>> _ = engine.run(range(3), max_epochs=2)
        >>> results = profiler.get_results()
        >>> results["processing_stats"]["min/index"][0] >= 0.001
        True
        >>> results["event_handlers_stats"]["EPOCH_COMPLETED"]["total"] >= 0.004
        True
    """

    #: The events whose handlers are not timed (all the others are, see ``event_handlers_times``).
    events_to_ignore: ClassVar[list[CallableEventWithFilter]] = [
        Events.EXCEPTION_RAISED,
        Events.TERMINATE,
        Events.TERMINATE_SINGLE_EPOCH,
        Events.DATALOADER_STOP_ITERATION,
        Events.INTERRUPT,
    ]

    def __init__(self) -> None:
        super().__init__()
        self._handler_names: dict[str, list[str]] = {event: [] for event in _BASIC_EVENTS}
        self._times: dict[str, dict[int, float]] = {event: {} for event in _BASIC_EVENTS}
        self._processing: dict[int, float] = {}
        self._dataflow: dict[int, float] = {}

    def _occurrence(self, counter: str | None) -> int:
        assert self._engine is not None
        if counter is None:
            return 1
        if counter == "batch":
            return int(self._engine.state.iteration) + 1
        return int(getattr(self._engine.state, counter))

    def _register(self, handler: Callable[..., Any], event: EventKey) -> None:
        name = _event_name(event)
        if name in _BASIC_EVENTS:
            self._handler_names[name].append(_handler_name(handler))

    def _record(self, handler: Callable[..., Any], event: EventKey, seconds: float) -> None:
        name = _event_name(event)
        if name in _BASIC_EVENTS:
            times = self._times[name]
            key = self._occurrence(_BASIC_EVENTS[name])
            times[key] = times.get(key, 0.0) + seconds

    # Ignite's views of the measures: tensors indexed by occurrence (0 for the first), sized for the whole run.
    def _run_sizes(self) -> tuple[int, int]:
        state = None if self._engine is None else self._engine.state
        if state is None or state.max_epochs is None or state.epoch_length is None:
            raise AttributeError("BasicTimeProfiler: max_epochs and total_num_iters are known once a run has started.")
        return int(state.max_epochs), int(state.max_epochs) * int(state.epoch_length)

    @property
    def max_epochs(self) -> int:
        """The number of epochs of the profiled run (known once it has started)."""
        return self._run_sizes()[0]

    @property
    def total_num_iters(self) -> int:
        """The number of iterations of the profiled run, ``max_epochs * epoch_length`` (once it has started)."""
        return self._run_sizes()[1]

    @staticmethod
    def _as_tensor(times: Mapping[int, float], size: int) -> torch.Tensor:
        values = torch.zeros(size)
        for occurrence, seconds in times.items():
            if 1 <= occurrence <= size:
                values[occurrence - 1] = seconds
        return values

    def _sized(self, times: Mapping[int, float], counter: str | None) -> torch.Tensor:
        if self._engine is None or self._engine.state.max_epochs is None:
            return torch.zeros(1)  # as Ignite before a run: one empty slot
        epochs, iterations = self._run_sizes()
        return self._as_tensor(times, {None: 1, "epoch": epochs}.get(counter, iterations))

    @property
    def processing_times(self) -> torch.Tensor:
        """Seconds of the process function at each iteration of the run (0 where not measured)."""
        return self._sized(self._processing, "iteration")

    @property
    def dataflow_times(self) -> torch.Tensor:
        """Seconds of the data fetch of each iteration of the run (0 where not measured)."""
        return self._sized(self._dataflow, "iteration")

    @property
    def event_handlers_times(self) -> dict[CallableEventWithFilter, torch.Tensor]:
        """Seconds of all the handlers of each timed event, at each occurrence: ``STARTED`` and ``COMPLETED``
        once, epoch events once per epoch, iteration and batch events once per iteration (empty before a run)."""
        if self._engine is None or self._engine.state.max_epochs is None:
            return {}
        return {Events[name]: self._sized(self._times[name], counter) for name, counter in _BASIC_EVENTS.items()}

    @property
    def event_handlers_names(self) -> dict[CallableEventWithFilter, list[str]]:
        """The names of the timed handlers of each timed event."""
        return {Events[name]: list(names) for name, names in self._handler_names.items()}

    def _measured(self, name: str, seconds: float) -> None:
        if name == _PROCESS:
            self._processing[self._occurrence("iteration")] = seconds
        else:
            self._dataflow[self._occurrence("batch")] = seconds

    def _clear(self) -> None:
        for times in self._times.values():
            times.clear()
        self._processing.clear()
        self._dataflow.clear()

    def get_results(self) -> dict[str, dict[str, Any]]:
        """Return ``{"processing_stats", "dataflow_stats", "event_handlers_stats", "event_handlers_names"}``:
        stats are ``{"total", "min/index", "max/index", "mean", "std"}`` in seconds (only ``total`` until there
        are two measures); ``event_handlers_stats`` has one entry per event and ``total_time``."""
        total = sum(sum(times.values()) for times in self._times.values())
        handlers: dict[str, Any] = {event: _basic_stats(list(times.values())) for event, times in self._times.items()}
        handlers["total_time"] = torch.tensor(total)
        return {
            "processing_stats": _basic_stats(list(self._processing.values())),
            "dataflow_stats": _basic_stats(list(self._dataflow.values())),
            "event_handlers_stats": handlers,
            "event_handlers_names": {f"{event}_names": list(names) for event, names in self._handler_names.items()},
        }

    @staticmethod
    def print_results(results: Mapping[str, Any]) -> str:
        """Print ``results`` (from :meth:`get_results`) as a report and return its text.

        Example:
            >>> text = BasicTimeProfiler.print_results(BasicTimeProfiler().get_results())  # doctest: +ELLIPSIS
            <BLANKLINE>
            Time profiling stats (in seconds): total | min/index | max/index | mean | std
            ...
        """

        def cell(value: Any) -> str:
            if isinstance(value, tuple):
                return f"{value[0]:.5f}/{value[1]}"
            if isinstance(value, torch.Tensor):
                value = value.item()
            return value if isinstance(value, str) else f"{value:.5f}"

        def line(stats: Mapping[str, Any]) -> str:
            return " | ".join(cell(value) for value in stats.values())

        handlers, names = results["event_handlers_stats"], results["event_handlers_names"]
        parts = [
            "",
            "Time profiling stats (in seconds): total | min/index | max/index | mean | std",
            "",
            f"Processing function:\n{line(results['processing_stats'])}",
            "",
            f"Dataflow:\n{line(results['dataflow_stats'])}",
            "",
            f"Event handlers:\n{cell(handlers['total_time'])}",
        ]
        for event in _BASIC_EVENTS:
            parts += ["", f"- Events.{event}: {names[f'{event}_names']}\n{line(handlers[event])}"]
        text = "\n".join(parts)
        print(text)
        return text

    def write_results(self, output_path: str | Path) -> None:
        """Write one CSV row per iteration: epoch, iteration, process-function and data-fetch time, and the
        handlers' time of each event (the epoch's, or the run's, time repeated on each of its iterations)."""
        assert self._engine is not None or not self._processing, "attach the profiler first"
        length = self._engine.state.epoch_length if self._engine is not None else None
        iterations = sorted(set(self._processing) | set(self._dataflow))
        header = ["epoch", "iteration", "processing_stats", "dataflow_stats"]
        header += [f"Event_{event}" for event in _BASIC_EVENTS]
        columns: list[list[float]] = [[] for _ in header]
        for iteration in iterations:
            epoch = (iteration - 1) // length + 1 if length else 1
            row = [
                float(epoch),
                float(iteration),
                self._processing.get(iteration, 0.0),
                self._dataflow.get(iteration, 0.0),
            ]
            for event, counter in _BASIC_EVENTS.items():
                key = {None: 1, "epoch": epoch}.get(counter, iteration)
                row.append(self._times[event].get(key, 0.0))
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        _write_csv(output_path, header, columns)
