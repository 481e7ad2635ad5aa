"""``torch.profiler`` traces of chosen iterations, per rank, on a schedule or on demand for a running job.

A window is ``warmup`` iterations the profiler runs but discards (the first iterations after it starts are
slower), then ``active`` iterations it records; the trace of those is written as
``<output_dir>/rank<R>.iter<first>-<last>.pt.trace.json``: Chrome's trace format, which Perfetto
(ui.perfetto.dev), ``chrome://tracing`` and TensorBoard's profiler plugin (``--logdir <output_dir>``) open.
Windows are placed on the engine's iteration count, not on the iterations this process ran: a run resumed
after a window does not profile it again, and one resumed before it profiles the same iterations.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cadence.distributed import get_rank
from cadence.engine import Engine, Events
from cadence.engine.events import RemovableEventHandle
from cadence.handlers._files import temporary_name

__all__ = ["TorchProfiler"]


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} should be an integer >= {minimum}, got {value!r}.")
    return value


class TorchProfiler:
    """Record ``torch.profiler`` traces of some iterations of an engine, on a schedule and on demand.

    Scheduled windows start after ``skip_first + wait`` iterations and come back every ``wait + warmup +
    active`` iterations, ``repeat`` times (``0``: until the run ends; ``scheduled=False``: none). On demand:
    touch the file ``trigger_file`` in ``output_dir`` (every rank that sees it, on any host sharing the
    folder, profiles its next iterations; touch it again for another window), or send ``trigger_signal`` to
    the process (e.g. ``signal.SIGUSR2``); the request is taken within ``poll_every`` iterations.

    Nothing runs per iteration outside a window but the check of the schedule's next start and, with a
    trigger, a check every ``poll_every`` iterations; the profiler itself exists only during a window.

    Args:
        output_dir: where the traces are written (created if missing).
        wait: iterations between windows (and before the first, after ``skip_first``).
        warmup: iterations run under the profiler before it records (0 is allowed; torch warns).
        active: iterations recorded per window.
        repeat: scheduled windows (0: no limit).
        skip_first: iterations before the schedule starts.
        scheduled: whether to profile on the schedule at all (``False``: only on demand).
        trigger_file: a file name in ``output_dir`` whose appearance (or newer modification time) asks for a
            window; ``None``: no file.
        trigger_signal: a signal that asks for a window (installed at :meth:`attach`, from the main thread;
            the previous handler comes back when the run ends); ``None``: none.
        poll_every: how often (iterations) a trigger is checked.
        activities: ``torch.profiler.ProfilerActivity`` values; default: CPU, and CUDA when available.
        **profile_kwargs: passed to ``torch.profiler.profile`` (``record_shapes``, ``profile_memory``,
            ``with_stack``, ``with_flops``...).

    Example:
        >>> import tempfile, torch
        >>> engine = Engine(lambda engine, batch: torch.ones(8, 8) @ torch.ones(8, 8))
        >>> folder = tempfile.mkdtemp()
        >>> TorchProfiler(folder, wait=2, warmup=1, active=2, trigger_file=None).attach(engine)
        >>> _ = engine.run(range(10))
        >>> sorted(os.listdir(folder))
        ['rank0.iter4-5.pt.trace.json']
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        *,
        wait: int = 1,
        warmup: int = 1,
        active: int = 3,
        repeat: int = 1,
        skip_first: int = 0,
        scheduled: bool = True,
        trigger_file: str | None = "PROFILE",
        trigger_signal: int | None = None,
        poll_every: int = 50,
        activities: Iterable[Any] | None = None,
        **profile_kwargs: Any,
    ) -> None:
        if not isinstance(output_dir, str | os.PathLike):
            raise TypeError(f"output_dir should be a path, got {output_dir!r}.")
        self.output_dir = Path(output_dir)
        self.wait, self.warmup = _count("wait", wait, 0), _count("warmup", warmup, 0)
        self.active, self.repeat = _count("active", active, 1), _count("repeat", repeat, 0)
        self.skip_first, self.poll_every = _count("skip_first", skip_first, 0), _count("poll_every", poll_every, 1)
        if not isinstance(scheduled, bool):
            raise TypeError(f"scheduled should be True or False, got {scheduled!r}.")
        if trigger_file is not None and (not isinstance(trigger_file, str) or not trigger_file or "/" in trigger_file):
            raise ValueError(f"trigger_file should be a file name (no folder) or None, got {trigger_file!r}.")
        if trigger_signal is not None and trigger_signal not in set(signal.Signals):
            raise ValueError(
                f"trigger_signal should be a signal number such as signal.SIGUSR2, got {trigger_signal!r}."
            )
        for name in ("schedule", "on_trace_ready"):
            if name in profile_kwargs:
                raise TypeError(f"TorchProfiler sets torch.profiler.profile's {name} itself; use wait/warmup/active.")
        self.scheduled, self.trigger_file, self.trigger_signal = scheduled, trigger_file, trigger_signal
        self.activities = None if activities is None else list(activities)
        self.profile_kwargs = profile_kwargs
        self.traces: list[Path] = []  # written by this process, in order
        self._engine: Engine[Any] | None = None
        self._handles: list[RemovableEventHandle] = []
        self._unobserve: Callable[[], None] | None = None
        self._window: RemovableEventHandle | None = None
        self._profile: Any = None
        self._steps = 0  # profiler steps (iterations) of the current window done
        self._first = 0  # the first recorded iteration of the current window
        self._requested = False
        self._seen_mtime: int | None = None
        self._previous_handler: Any = None

    # ------------------------------------------------------------------ attaching
    def attach(self, engine: Engine[Any]) -> None:
        """Profile ``engine``'s iterations (one engine per profiler)."""
        if self._engine is not None:
            raise RuntimeError("This TorchProfiler is attached already; make one per engine.")
        if self.trigger_signal is not None and threading.current_thread() is not threading.main_thread():
            raise RuntimeError("trigger_signal can only be installed from the main thread; attach it there.")
        self._engine = engine
        if self.scheduled:
            self._handles.append(engine.add_event_handler(self._scheduled_starts(), self._begin_now))
        if self.trigger_file is not None or self.trigger_signal is not None:
            self._handles.append(engine.add_event_handler(Events.STARTED, self._arm))
            self._handles.append(
                engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.poll_every), self._poll)
            )
        self._handles.append(engine.add_event_handler(Events.COMPLETED | Events.TERMINATE, self._finish))
        self._unobserve = engine.observe_exceptions(self._finish)  # not a handler: the error still reaches run()

    def detach(self) -> None:
        """Stop any window (its trace is written), remove the handlers and give the signal back."""
        self._finish()
        for handle in self._handles:
            handle.remove()
        if self._unobserve is not None:
            self._unobserve()
        self._handles, self._engine, self._unobserve = [], None, None

    def _scheduled_starts(self) -> Any:
        """ITERATION_STARTED at each scheduled window's start (its first warm-up or recorded iteration)."""
        period, first = self.wait + self.warmup + self.active, self.skip_first + self.wait + 1
        if self.repeat:
            return Events.ITERATION_STARTED(once=[first + k * period for k in range(self.repeat)])
        return Events.ITERATION_STARTED(
            event_filter=lambda engine, iteration: iteration >= first and (iteration - first) % period == 0
        )

    # ------------------------------------------------------------------ on demand
    def _arm(self, engine: Engine[Any]) -> None:
        if self.trigger_file is not None and self._seen_mtime is None:
            self._seen_mtime = self._trigger_mtime()  # a file left from before the run asks for nothing
        if self.trigger_signal is not None and self._previous_handler is None:
            self._previous_handler = signal.signal(self.trigger_signal, self._on_signal)

    def _on_signal(self, number: int, frame: Any) -> None:
        self._requested = True

    def _trigger_mtime(self) -> int:
        assert self.trigger_file is not None
        try:
            return (self.output_dir / self.trigger_file).stat().st_mtime_ns
        except OSError:
            return 0

    def _poll(self, engine: Engine[Any]) -> None:
        if self.trigger_file is not None:
            mtime = self._trigger_mtime()
            if mtime and mtime != self._seen_mtime:
                self._seen_mtime, self._requested = mtime, True
        if self._requested and self._profile is None:
            self._requested = False
            self._begin(engine, engine.state.iteration + 1)  # from the next iteration on

    # ------------------------------------------------------------------ a window
    def _begin_now(self, engine: Engine[Any]) -> None:
        self._begin(engine, engine.state.iteration)  # at ITERATION_STARTED: this iteration is the first

    def _begin(self, engine: Engine[Any], first: int) -> None:
        """Start a window whose first (warm-up or recorded) iteration is ``first``; each ITERATION_COMPLETED
        from then on is one step of the profiler's schedule."""
        if self._profile is not None:
            return  # a window is running: a request or a scheduled start meanwhile joins it
        import torch.profiler as profiler  # only when a window starts: importing it costs time

        activities = self.activities
        if activities is None:
            import torch

            activities = [profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(profiler.ProfilerActivity.CUDA)
        self._first, self._steps = first + self.warmup, 0
        self._profile = profiler.profile(
            activities=activities,
            schedule=profiler.schedule(wait=0, warmup=self.warmup, active=self.active, repeat=1),
            on_trace_ready=self._write,
            **self.profile_kwargs,
        )
        self._profile.start()
        self._window = engine.add_event_handler(Events.ITERATION_COMPLETED, self._step)

    def _step(self, engine: Engine[Any]) -> None:
        self._steps += 1
        self._profile.step()  # after the last recorded iteration, this writes the trace (_write)
        if self._steps == self.warmup + self.active:
            self._end()

    def _end(self) -> None:
        profile, self._profile = self._profile, None
        if self._window is not None:
            self._window.remove()
            self._window = None
        if profile is not None:
            profile.stop()

    def _finish(self, *args: Any) -> None:
        self._end()
        if self._previous_handler is not None and self.trigger_signal is not None:
            signal.signal(self.trigger_signal, self._previous_handler)
            self._previous_handler = None

    def _write(self, profile: Any) -> None:
        recorded = max(1, self._steps - self.warmup)  # fewer than active when the run ended inside the window
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"rank{get_rank()}.iter{self._first}-{self._first + recorded - 1}.pt.trace.json"
        temporary = path.with_name(temporary_name(path.name))
        profile.export_chrome_trace(str(temporary))
        os.replace(temporary, path)  # whole or absent: a reader never sees half a trace
        self.traces.append(path)
