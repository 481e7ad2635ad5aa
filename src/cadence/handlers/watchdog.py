"""A watchdog for ranks that stop making progress: it names them and ends the job's workers, so that the
launcher (torchrun's elastic agent, ``Parallel``, SLURM) restarts them and the run resumes from its newest
checkpoint, long before a collective's timeout would have ended the job.

Each rank counts its progress on the loop's thread (one increment per iteration: no collective, no host
sync). A background thread per rank judges that progress about once a second; another publishes it with a
heartbeat through the process group's store and follows its neighbours' on a ring of the ranks (see
``_heartbeats``). A rank whose heartbeat stopped changing is frozen (stopped, or its interpreter stuck); a
rank whose heartbeat goes on but whose loop made no progress is hung (a filesystem read, a driver stall),
unless its main thread is waiting in a collective for another rank. When the store itself stops answering,
the rank that hosts it is the frozen one.
"""

from __future__ import annotations

import faulthandler
import os
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from cadence.distributed import get_rank, get_world_size, hostname
from cadence.engine import Engine, Events
from cadence.engine.events import RemovableEventHandle
from cadence.handlers._heartbeats import Heartbeats

__all__ = ["Watchdog"]

# Frames of a main thread that waits for other ranks rather than being stuck itself.
_WAITING_IN = ("torch/distributed/", "torch/nn/parallel/", "torch/autograd/", "cadence/distributed/")


class Watchdog:
    """End a job whose ranks stopped progressing, naming the rank(s) responsible, so that it is restarted.

    The limit on "no progress" is ``timeout`` seconds when given; otherwise ``factor`` times the median of the
    recent step times, at least ``floor`` and at most ``cap`` seconds (``cap`` until ``warmup`` steps were
    seen: the first steps, a compilation, the first collective may take long). When it is exceeded, every
    live rank prints once which rank(s) stopped progressing (rank and host) and the stacks of its own threads,
    then exits with ``exit_code``. A rank that is merely slow (a step shorter than the limit) never triggers
    it. Attach it to the trainer and to the engines that run inside it (an evaluator run at each epoch's end),
    so that their iterations count as progress too.

    Args:
        timeout: a fixed limit in seconds (``None``: derived from the step time).
        factor: the limit as a multiple of the median step time.
        floor: the smallest derived limit, in seconds.
        cap: the largest derived limit, in seconds (also the limit before ``warmup`` steps).
        warmup: steps to observe before the limit is derived from them.
        exit_code: the status the workers exit with (non-zero: the launcher then restarts them).
        kill_frozen: SIGKILL a frozen rank (one whose heartbeat stopped: a stopped process, or an interpreter
            that never lets go of the GIL) when it runs on the same host as the rank that notices it. A stopped
            process never handles the SIGTERM its launcher sends when the others exit, and torchrun's agent
            waits 30 s before its SIGKILL; on another host that wait remains.

    Example:
        >>> trainer = Engine(lambda engine, batch: None)
        >>> watchdog = Watchdog(floor=30.0)
        >>> watchdog.attach(trainer)
        >>> _ = trainer.run(range(10))
        >>> watchdog.limit() >= 30.0
        True
    """

    def __init__(
        self,
        timeout: float | None = None,
        *,
        factor: float = 20.0,
        floor: float = 120.0,
        cap: float = 1800.0,
        warmup: int = 5,
        exit_code: int = 75,
        kill_frozen: bool = True,
    ) -> None:
        for name, value in {"factor": factor, "floor": floor, "cap": cap}.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} should be a positive number of seconds (or a factor), got {value!r}.")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ValueError(f"timeout should be None or a positive number of seconds, got {timeout!r}.")
        if floor > cap:
            raise ValueError(f"floor ({floor}) should not exceed cap ({cap}).")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"warmup should be a positive number of steps, got {warmup!r}.")
        if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not 0 < exit_code < 256:
            raise ValueError(f"exit_code should be a non-zero exit status (1..255), got {exit_code!r}.")
        self.timeout, self.factor, self.floor, self.cap = timeout, float(factor), float(floor), float(cap)
        if not isinstance(kill_frozen, bool):
            raise TypeError(f"kill_frozen should be True or False, got {kill_frozen!r}.")
        self.warmup, self.exit_code, self.kill_frozen = warmup, exit_code, kill_frozen
        self.progress = 0  # iterations of the attached engines, counted on the loop's thread
        self._step_times: deque[float] = deque(maxlen=64)
        self._last_step: float | None = None
        self._handles: list[RemovableEventHandle] = []
        self._unobserve: Callable[[], None] | None = None
        self._watching = False
        self._thread: threading.Thread | None = None
        self._main_thread_id = threading.main_thread().ident

    def attach(self, trainer: Engine[Any], *engines: Engine[Any]) -> None:
        """Watch ``trainer``'s run; the iterations of ``engines`` (run inside it) count as progress too."""
        if self._handles:
            raise RuntimeError("This Watchdog is attached already; make one per trainer.")
        self._handles = [
            trainer.add_event_handler(Events.STARTED, self._start),
            trainer.add_event_handler(Events.ITERATION_COMPLETED, self._step),
            trainer.add_event_handler(Events.COMPLETED | Events.TERMINATE, self._stop),
        ]
        self._unobserve = trainer.observe_exceptions(self._stop)  # not a handler: the error still reaches run()
        self._handles += [engine.add_event_handler(Events.ITERATION_COMPLETED, self._tick) for engine in engines]

    def detach(self) -> None:
        """Stop watching and remove the event handlers."""
        self._stop()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._unobserve is not None:
            self._unobserve()
            self._unobserve = None

    def limit(self) -> float:
        """How long (seconds) the job may go without progress now."""
        if self.timeout is not None:
            return float(self.timeout)
        if len(self._step_times) < self.warmup:
            return self.cap
        return min(self.cap, max(self.floor, self.factor * statistics.median(self._step_times)))

    def _tick(self, *args: Any) -> None:
        self.progress += 1

    def _step(self, *args: Any) -> None:
        self.progress += 1
        now = time.monotonic()
        if self._last_step is not None:
            self._step_times.append(now - self._last_step)
        self._last_step = now

    def _start(self, *args: Any) -> None:
        self._last_step = None
        self._watching = True
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="cadence-watchdog", daemon=True)
            self._thread.start()

    def _stop(self, *args: Any) -> None:
        self._watching = False

    # ------------------------------------------------------------------ the watching thread
    def _watch(self) -> None:
        rank = get_rank()
        beats = Heartbeats(_default_store(), rank, get_world_size()) if get_world_size() > 1 else None
        progress, progressed_at = self.progress, time.monotonic()
        first = True
        while self._watching:
            limit = self.limit()
            interval = min(1.0, max(0.2, limit / 8))
            if not first:  # the first heartbeat goes out at once: a rank may freeze before its first second
                time.sleep(interval)
            first = False
            now = time.monotonic()
            if self.progress != progress:
                progress, progressed_at = self.progress, now
            waiting = self._main_thread_waits()
            if beats is not None:
                beats.publish(progress, waiting)
            if not self._watching:
                return
            stalled = now - progressed_at > limit
            # Heartbeats come every interval: once the loop stalled, a peer silent for a few of them is frozen.
            silence = max(1.0, 3 * interval) if stalled else limit
            if beats is None:
                if stalled:  # alone, nobody else can be waited for
                    self._give_up(
                        rank, [f"rank {rank} (host {hostname()}, this process): alive but not progressing"], limit
                    )
                continue
            if stalled and now - beats.answered_at > silence:
                # The store itself no longer answers, so the peers' beats say nothing: its host is frozen.
                if beats.store_host is None:
                    self._give_up(rank, ["the process group's store (torchrun's agent) does not answer"], limit)
                else:
                    self._give_up(
                        rank, [self._frozen(beats, beats.store_host, "stopped (its store does not answer)")], limit
                    )
            frozen = beats.silent(silence)
            if frozen:
                self._give_up(rank, [self._frozen(beats, other, "stopped (no heartbeat)") for other in frozen], limit)
            if stalled:
                hung = [beats.describe(other, "alive but not progressing") for other in beats.hung()]
                if not waiting:
                    hung.insert(0, f"rank {rank} (host {hostname()}, this process): alive but not progressing")
                self._give_up(rank, hung or ["every rank waits in a collective (a deadlock)"], limit)

    def _frozen(self, beats: Heartbeats, rank: int, what: str) -> str:
        """Describe a frozen rank, and SIGKILL it when it runs on this host (``kill_frozen``): a stopped process
        never handles the launcher's SIGTERM, and torchrun waits 30 s before it sends SIGKILL."""
        text = beats.describe(rank, what)
        if self.kill_frozen and beats.kill_if_local(rank):
            text += "; SIGKILLed by this rank (same host), so that its launcher need not wait for it"
        return text

    def _main_thread_waits(self) -> bool:
        """Whether the loop's thread is inside a collective (waiting for other ranks), not stuck on its own."""
        frame = sys._current_frames().get(self._main_thread_id or -1)
        while frame is not None:
            if any(part in frame.f_code.co_filename.replace(os.sep, "/") for part in _WAITING_IN):
                return True
            frame = frame.f_back
        return False

    def _give_up(self, rank: int, culprits: list[str], limit: float) -> None:
        print(
            f"cadence watchdog (rank {rank}, host {hostname()}): no progress for {limit:.0f} s "
            f"(after {self.progress} iterations): {'; '.join(culprits)}. The stacks of rank {rank} follow; "
            f"exiting with status {self.exit_code} so that the launcher restarts the workers (resume from the "
            "newest checkpoint).",
            file=sys.stderr,
            flush=True,
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(self.exit_code)


def _default_store() -> Any:
    """The store of the default process group (torch keeps it; there is no public accessor)."""
    from torch.distributed import distributed_c10d

    return distributed_c10d._get_default_store()
