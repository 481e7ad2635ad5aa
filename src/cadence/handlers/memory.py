"""How much memory a run holds, per window of steps, and CUDA memory snapshots every N steps and when a step
runs out of memory: :class:`MemoryMonitor`.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cadence.distributed import device, get_rank
from cadence.engine import Engine, Events
from cadence.engine.events import RemovableEventHandle
from cadence.handlers._files import atomic_write

__all__ = ["MemoryMonitor"]

_PREFIX = "memory/"
_MIB = float(1 << 20)


def _rss_bytes() -> int | None:
    """This process's resident set size now (Linux: ``/proc/self/statm``), or ``None`` where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int | None:
    """The largest resident set size this process has had (``getrusage``), or ``None`` without ``resource``."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes on macOS, KiB on Linux


def _nothing() -> None:
    pass


def _cuda_is_usable() -> bool:
    return torch.cuda.is_available()


def _dump_cuda_snapshot(path: Path) -> None:
    """Write the CUDA allocator's snapshot (what ``torch.cuda.memory._dump_snapshot`` writes) atomically."""
    snapshot = torch.cuda.memory._snapshot()
    atomic_write(path, lambda file: pickle.dump(snapshot, file))


class MemoryMonitor:
    """Publish a run's memory in ``engine.state.metrics`` every ``every`` iterations, and on a GPU write CUDA memory
    snapshots every ``snapshot_every`` iterations and when a step runs out of memory.

    Metrics, in MiB: ``memory/rss_mib`` (this process's resident memory now; Linux), ``memory/peak_rss_mib``
    (its largest resident memory since it started) and, on a CUDA device, ``memory/cuda_allocated_mib`` (now),
    ``memory/cuda_peak_allocated_mib`` and ``memory/cuda_peak_reserved_mib`` (the allocator's peaks during the
    window: its peak statistics are reset at each window's start, so ``torch.cuda.max_memory_allocated`` then
    tells the window's peak). They are read from counters on the host: no GPU synchronisation, and nothing per
    iteration between the windows' ends. Each process publishes its own (memory is not added over ranks).

    Snapshots (with ``snapshot_dir``, on a CUDA device) record the allocator's history while the engine runs
    (``torch.cuda.memory._record_memory_history``: each allocation's stack, a cost to the step) and write
    ``rank<r>_step<n>.pickle`` every ``snapshot_every`` iterations and ``rank<r>_step<n>_oom.pickle`` when a
    ``torch.OutOfMemoryError`` escapes step ``n``, for https://pytorch.org/memory_viz. It sees the error through
    :meth:`~cadence.Engine.observe_exceptions`, before any ``EXCEPTION_RAISED`` handler, and does not handle it:
    ``run()`` raises it as it would without this monitor (unless such a handler takes care of it). Without CUDA,
    no snapshot is written, and the log says so.

    Args:
        every: iterations per window (the metrics are published at the iterations that are multiples of it).
        snapshot_dir: the folder of the CUDA memory snapshots (``None``: no snapshots).
        snapshot_every: write a snapshot every this many iterations (``None``: only on out-of-memory errors).
        snapshot_on_oom: write a snapshot when a step runs out of memory.
        max_entries: allocation events the recorded history keeps.
        device: where the step computes (default: :func:`cadence.distributed.device`).

    Example:
        >>> trainer = Engine(lambda engine, batch: torch.ones(1000, 1000))
        >>> MemoryMonitor(every=2).attach(trainer)
        >>> metrics = trainer.run(range(4)).metrics
        >>> metrics["memory/rss_mib"] > 1, metrics["memory/peak_rss_mib"] >= metrics["memory/rss_mib"]
        (True, True)
    """

    def __init__(
        self,
        every: int = 50,
        *,
        snapshot_dir: str | os.PathLike[str] | None = None,
        snapshot_every: int | None = None,
        snapshot_on_oom: bool = True,
        max_entries: int = 100_000,
        device: torch.device | str | None = None,
    ) -> None:
        for name, value in {"every": every, "snapshot_every": snapshot_every, "max_entries": max_entries}.items():
            if value is None and name == "snapshot_every":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} should be a positive int, got {value!r}.")
        if not isinstance(snapshot_on_oom, bool):
            raise TypeError(f"snapshot_on_oom should be True or False, got {snapshot_on_oom!r}.")
        if snapshot_dir is not None and not isinstance(snapshot_dir, str | os.PathLike):
            raise TypeError(f"snapshot_dir should be a folder (a str or a path), got {snapshot_dir!r}.")
        if snapshot_every is not None and snapshot_dir is None:
            raise ValueError("snapshot_every needs snapshot_dir: the folder to write the snapshots to.")
        self.every = every
        self.snapshot_dir = None if snapshot_dir is None else Path(snapshot_dir)
        self.snapshot_every = snapshot_every
        self.snapshot_on_oom = snapshot_on_oom and snapshot_dir is not None
        self.max_entries = max_entries
        self._device = None if device is None else torch.device(device)
        self._cuda: torch.device | None = None
        self._recording = False
        self._said_no_cuda = False
        self._handles: list[RemovableEventHandle] = []
        self._unobserve: Callable[[], None] = _nothing
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def attach(self, engine: Engine[Any]) -> None:
        """Watch ``engine``'s memory."""
        if not isinstance(engine, Engine):
            raise TypeError(f"MemoryMonitor.attach needs an Engine, got {type(engine).__name__}.")
        if self._handles:
            raise RuntimeError("This MemoryMonitor is attached already; make one per engine.")
        self._handles = [
            engine.add_event_handler(Events.STARTED, self._start),
            engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.every), self._publish),
        ]
        if self.snapshot_every is not None:
            self._handles.append(
                engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.snapshot_every), self._periodic_snapshot)
            )
        if self.snapshot_dir is not None:
            self._handles.append(engine.add_event_handler(Events.COMPLETED, self._stop_recording))
        if self.snapshot_on_oom:  # an observer, not an EXCEPTION_RAISED handler: that would make run() return
            self._unobserve = engine.observe_exceptions(self._on_exception)

    def detach(self) -> None:
        """Stop watching: remove the event handlers (and stop recording the allocator's history).

        Example:
            >>> engine = Engine(lambda engine, batch: None)
            >>> monitor = MemoryMonitor()
            >>> monitor.attach(engine)
            >>> monitor.detach()
            >>> "memory/rss_mib" in engine.run([0]).metrics
            False
        """
        self._stop_recording()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._unobserve()
        self._unobserve = _nothing

    def _start(self, engine: Engine[Any]) -> None:
        where = self._device if self._device is not None else device()
        self._cuda = where if where.type == "cuda" else None
        if self.snapshot_dir is not None and self._cuda is None and not self._said_no_cuda:
            self._said_no_cuda = True
            self.logger.warning("MemoryMonitor: no CUDA memory snapshots: the run does not compute on CUDA.")
        if self.snapshot_dir is not None and self._cuda is not None and not self._recording:
            torch.cuda.memory._record_memory_history(max_entries=self.max_entries)
            self._recording = True
        self._publish(engine)

    def _publish(self, engine: Engine[Any]) -> None:
        metrics = engine.state.metrics
        rss, peak = _rss_bytes(), _peak_rss_bytes()
        if rss is not None:
            metrics[f"{_PREFIX}rss_mib"] = rss / _MIB
        if peak is not None:
            metrics[f"{_PREFIX}peak_rss_mib"] = max(peak, rss or 0) / _MIB  # getrusage lags by a page or so
        if self._cuda is not None:
            metrics[f"{_PREFIX}cuda_allocated_mib"] = torch.cuda.memory_allocated(self._cuda) / _MIB
            metrics[f"{_PREFIX}cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated(self._cuda) / _MIB
            metrics[f"{_PREFIX}cuda_peak_reserved_mib"] = torch.cuda.max_memory_reserved(self._cuda) / _MIB
            torch.cuda.reset_peak_memory_stats(self._cuda)  # the next window's peak is its own

    def _periodic_snapshot(self, engine: Engine[Any]) -> None:
        if self._cuda is not None:  # otherwise the run's start said there would be none
            self._snapshot(engine, "")

    def _snapshot(self, engine: Engine[Any], suffix: str) -> Path | None:
        """Write a CUDA memory snapshot of this step, or say why none is written; return its path."""
        assert self.snapshot_dir is not None
        step = engine.state.iteration
        if self._cuda is None or not _cuda_is_usable():
            self.logger.warning(
                "MemoryMonitor: no CUDA memory snapshot at step %d%s: CUDA is not available (or the run is not on "
                "it); snapshots need a CUDA device.",
                step,
                " (out of memory)" if suffix else "",
            )
            return None
        path = self.snapshot_dir / f"rank{get_rank()}_step{step}{suffix}.pickle"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _dump_cuda_snapshot(path)
        except OSError as error:  # a full disk must not hide the error being reported, nor stop the run
            self.logger.warning("MemoryMonitor: could not write the memory snapshot %s: %s", path, error)
            return None
        if suffix:
            self.logger.warning("MemoryMonitor: wrote the CUDA memory snapshot %s", path)
        return path

    def _on_exception(self, engine: Engine[Any], error: BaseException) -> None:
        if isinstance(error, torch.cuda.OutOfMemoryError):  # torch.OutOfMemoryError in newer torch: one class
            self._snapshot(engine, "_oom")
        self._stop_recording()

    def _stop_recording(self, *args: Any) -> None:
        if self._recording:
            torch.cuda.memory._record_memory_history(enabled=None)
            self._recording = False
