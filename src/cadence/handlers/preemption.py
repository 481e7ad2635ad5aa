"""Preemption: on SIGTERM or SIGUSR1, finish the iteration, save one checkpoint of it on every rank, and exit.

Cluster schedulers send SIGTERM (SLURM: ``--signal=TERM@60``; Kubernetes, torchrun's agent) some time
before they kill a job. By default Python dies on it at once and the work since the last checkpoint
is lost; :class:`Preemption` turns the signal into a clean stop at an iteration boundary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import torch

from cadence.distributed import ReduceOp, all_reduce, get_rank, get_world_size
from cadence.engine import Engine, Events
from cadence.engine.events import RemovableEventHandle

__all__ = ["Preempted", "Preemption", "requeue_slurm_job"]

_Handler = Callable[[int, FrameType | None], Any] | int | None


class Preempted(SystemExit):
    """Raised by :class:`Preemption` once the checkpoint is written: the run stops and the program exits.

    ``code`` is the exit status (``128 + signal number`` by default, as a shell reports a signal);
    ``signal`` the signal received (on any rank) and ``iteration`` the last iteration run.

    Example:
        >>> error = Preempted(143, signal=15, iteration=40)
        >>> error.code, error.iteration
        (143, 40)
    """

    def __init__(self, code: int, *, signal: int, iteration: int) -> None:
        super().__init__(code)
        self.signal = signal
        self.iteration = iteration


class Preemption:
    """Stop a run cleanly when the job is preempted: the opt-in answer to SIGTERM/SIGUSR1.

    While the engine runs, handlers for ``signals`` (installed in the main thread) only note the signal.
    After each iteration (every ``check_every`` iterations), the ranks agree with one ``all_reduce``
    whether any of them got one, so all stop after the same iteration; then ``checkpoint(engine)``
    is called once on every rank (a :class:`~cadence.handlers.Checkpoint` writes one file of that
    iteration), a message is printed on rank 0, and :class:`Preempted` (a ``SystemExit``) ends the
    run and the program with ``exit_code`` (default ``128 + signal``). A run resumed from that
    checkpoint continues at the next iteration. The previous signal handlers come back when the run
    ends and on :meth:`detach`. With one process the check is a flag test: no cost to speak of.

    Args:
        checkpoint: called with the engine to save; usually the run's ``Checkpoint`` handler.
        signals: the signals that mean "preempted" (default SIGTERM and SIGUSR1).
        check_every: check every N iterations (each check is one collective when distributed).
        exit_code: the exit status; ``None`` for ``128 + signal number``.
        requeue_slurm_job: under SLURM (``SLURM_JOB_ID`` set), once the checkpoint is complete, rank 0 puts
            the job back in the queue with ``scontrol requeue <job id>`` (``<array job>_<task>`` for an array
            task), so that it starts again and resumes from that checkpoint. Outside SLURM it does nothing.
            A failed ``scontrol`` is reported as a warning; the run still stops with the checkpoint saved.

    Example:
        >>> import os, signal
        >>> saved = []
        >>> trainer = Engine(lambda engine, batch: None)
        >>> Preemption(lambda engine: saved.append(engine.state.iteration)).attach(trainer)
        >>> @trainer.on(Events.ITERATION_STARTED(once=3))
        ... def scheduler_says_stop(engine):
        ...     os.kill(os.getpid(), signal.SIGTERM)
        >>> try:
        ...     trainer.run(range(10))
        ... except Preempted as stop:
        ...     print(stop.code, saved)
        143 [3]
    """

    def __init__(
        self,
        checkpoint: Callable[[Engine[Any]], Any],
        signals: Sequence[int] = (signal.SIGTERM, signal.SIGUSR1),
        check_every: int = 1,
        exit_code: int | None = None,
        *,
        requeue_slurm_job: bool = False,
    ) -> None:
        if not callable(checkpoint):
            raise TypeError(f"checkpoint should be callable with the engine (a Checkpoint), got {checkpoint!r}.")
        signals = tuple(signals)
        if not signals or not all(isinstance(s, int) and s in signal.valid_signals() for s in signals):
            raise ValueError(f"signals should be a non-empty sequence of signal numbers, got {signals!r}.")
        if signal.SIGKILL in signals or signal.SIGINT in signals:
            raise ValueError("SIGKILL cannot be caught and SIGINT is Ctrl-C (KeyboardInterrupt): leave them out.")
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
            raise ValueError(f"check_every should be a positive integer, got {check_every!r}.")
        if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
            raise TypeError(f"exit_code should be an int or None, got {exit_code!r}.")
        if not isinstance(requeue_slurm_job, bool):
            raise TypeError(f"requeue_slurm_job should be True or False, got {requeue_slurm_job!r}.")
        self.checkpoint = checkpoint
        self.requeue_slurm_job = requeue_slurm_job
        self.signals = signals
        self.check_every = check_every
        self.exit_code = exit_code
        self.received: int | None = None  # the signal noted in this process, until the run stops
        self._previous: dict[int, _Handler] = {}
        self._handles: list[RemovableEventHandle] = []

    def attach(self, engine: Engine[Any]) -> None:
        """Handle the signals while ``engine`` runs; check for one after every ``check_every`` iterations."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("Preemption.attach must be called in the main thread: only it can handle signals.")
        if self._handles:
            raise RuntimeError("This Preemption is attached already; detach it first.")
        self._handles = [
            engine.add_event_handler(Events.STARTED, self._install),
            engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.check_every), self._check),
            engine.add_event_handler(Events.COMPLETED, self._restore_signals),
        ]

    def detach(self) -> None:
        """Remove the event handlers and give the signals back to their previous handlers."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._restore_signals()

    def _install(self, *args: Any) -> None:
        if not self._previous and threading.current_thread() is threading.main_thread():
            for number in self.signals:
                self._previous[number] = signal.signal(number, self._note)

    def _note(self, number: int, frame: FrameType | None) -> None:
        self.received = self.received or number

    def _restore_signals(self, *args: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            for number, previous in self._previous.items():
                signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _check(self, engine: Engine[Any]) -> None:
        received = self.received or 0
        if get_world_size() > 1:  # one collective: every rank stops after this same iteration, or none does
            received = int(all_reduce(torch.tensor(received), ReduceOp.MAX).item())
        if not received:
            return
        iteration = engine.state.iteration
        self.checkpoint(engine)
        wait = getattr(self.checkpoint, "wait", None)
        if callable(wait):  # an asynchronous Checkpoint: the file must be complete before the process exits
            wait()
        self._restore_signals()  # a second signal now ends the process the usual way
        code = 128 + received if self.exit_code is None else self.exit_code
        if get_rank() == 0:
            requeued = requeue_slurm_job() if self.requeue_slurm_job else ""
            name = signal.Signals(received).name
            from tqdm import tqdm  # its write() clears open progress bars first: the message is not glued to one

            tqdm.write(
                f"cadence: {name} received: stopped after iteration {iteration} and saved a checkpoint of it; "
                f"exiting with status {code}. {requeued or 'Resume from that checkpoint to continue exactly there.'}",
                file=sys.stderr,
            )
            sys.stderr.flush()
        raise Preempted(code, signal=received, iteration=iteration)


def requeue_slurm_job() -> str:
    """Put this SLURM job (or array task) back in the queue with ``scontrol requeue``; say what happened.

    Returns ``""`` outside SLURM. A failure (no ``scontrol``, a refusal) is a warning, never an error: the
    checkpoint is saved either way.

    Example:
        >>> import os
        >>> "SLURM_JOB_ID" in os.environ or requeue_slurm_job() == ""
        True
    """
    job = os.environ.get("SLURM_JOB_ID")
    if job is None:
        return ""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job is not None and task is not None:
        job = f"{array_job}_{task}"
    command = ["scontrol", "requeue", job]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        problem = str(error)
    else:
        if done.returncode == 0:
            return (
                f"SLURM job {job} requeued ({' '.join(command)}): it resumes from that checkpoint when it starts again."
            )
        problem = f"exit status {done.returncode}: {(done.stderr or done.stdout).strip()}"
    warnings.warn(f"Could not requeue SLURM job {job} with `{' '.join(command)}` ({problem}).", stacklevel=2)
    return f"SLURM job {job} was NOT requeued; resume from that checkpoint to continue exactly there."
