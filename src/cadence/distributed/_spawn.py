"""Start processes on this machine, watch them, and turn the first failure into one clear error."""

from __future__ import annotations

import contextlib
import ctypes
import enum
import faulthandler
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as torch_mp
from torch.multiprocessing.spawn import ProcessExitedException, ProcessRaisedException

from cadence.distributed.process_group import end_group, initialize

__all__ = [
    "ProcessExitedError",
    "ProcessFailedError",
    "ProcessRaisedError",
    "SpawnPicklingError",
    "SpawnPlan",
    "destroy_group",
    "start_processes",
]

# After the first failure, how long to keep listening for the other processes' reports: one of them is the
# cause (see _Cause), the others usually fail because it went away.
_GRACE_SECONDS = 1.0
_STOP_SECONDS = 3.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_STACK_SIGNAL = signal.SIGUSR2
# Signals the launcher passes on to its workers (a scheduler's notice of preemption); Ctrl-C reaches them directly.
_FORWARDED = (signal.SIGTERM, signal.SIGUSR1)


class ProcessFailedError(RuntimeError):
    """One process of a distributed run failed; ``rank`` names it and the message carries its traceback.

    What is raised is one of its two kinds, ``ProcessRaisedError`` or ``ProcessExitedError``, which are
    also torch's ``ProcessRaisedException`` and ``ProcessExitedException`` (what Ignite's spawn, through
    ``torch.multiprocessing``, lets through), with their ``msg``, ``error_index`` and ``error_pid``.

    Example:
        >>> error = ProcessFailedError(rank=1, local_rank=1, summary="ValueError: boom", details="")
        >>> error.rank, str(error).splitlines()[0]
        (1, 'rank 1 (local rank 1) failed: ValueError: boom')
    """

    def __init__(self, *, rank: int, local_rank: int, summary: str, details: str, pid: int | None = None) -> None:
        message = f"rank {rank} (local rank {local_rank}) failed: {summary}"
        text = f"{message}\n{details}" if details else message
        super().__init__(text)
        self.rank = rank
        self.local_rank = local_rank
        self.summary = summary
        self._details = details
        # torch.multiprocessing's names, for code that catches its errors.
        self.msg = text
        self.error_index = local_rank
        self.error_pid = pid if pid is not None else 0

    def _fields(self) -> dict[str, Any]:
        """The constructor's arguments, to rebuild this error from a pickle."""
        return {
            "rank": self.rank,
            "local_rank": self.local_rank,
            "summary": self.summary,
            "details": self._details,
            "pid": self.error_pid,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self._fields(), self.__dict__)


def _rebuilt(kind: type[ProcessFailedError], fields: dict[str, Any], state: dict[str, Any]) -> ProcessFailedError:
    error = kind(**fields)
    error.__dict__.update(state)
    return error


class ProcessRaisedError(ProcessFailedError, ProcessRaisedException):
    """A process of the run raised an exception (its traceback is in the message).

    Example:
        >>> import torch.multiprocessing
        >>> error = ProcessRaisedError(rank=0, local_rank=0, summary="ValueError: boom", details="", pid=7)
        >>> isinstance(error, torch.multiprocessing.ProcessRaisedException), error.error_pid
        (True, 7)
    """


class ProcessExitedError(ProcessFailedError, ProcessExitedException):
    """A process of the run ended without reporting an error: ``exit_code`` (negative for a signal, whose
    name is ``signal_name``), as torch's ``ProcessExitedException``.

    Example:
        >>> error = ProcessExitedError(rank=1, local_rank=1, summary="killed", details="", exit_code=-9)
        >>> error.exit_code, error.signal_name
        (-9, 'SIGKILL')
    """

    def __init__(
        self, *, rank: int, local_rank: int, summary: str, details: str, pid: int | None = None, exit_code: int = 1
    ) -> None:
        super().__init__(rank=rank, local_rank=local_rank, summary=summary, details=details, pid=pid)
        self.exit_code = exit_code
        self.signal_name = signal.Signals(-exit_code).name if exit_code < 0 else None

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "exit_code": self.exit_code}


class SpawnPicklingError(TypeError, pickle.PicklingError, AttributeError):
    """The function to run or its arguments cannot be sent to new processes.

    It is a ``TypeError`` and also what pickling raised there (``pickle.PicklingError`` or ``AttributeError``),
    which code written for Ignite's spawn may catch.

    Example:
        >>> isinstance(SpawnPicklingError("lambda"), pickle.PicklingError)
        True
    """


@dataclass(frozen=True)
class SpawnPlan:
    """Everything a spawned process needs to join the process group (picklable)."""

    backend: str
    nproc_per_node: int
    nnodes: int
    node_rank: int
    master_addr: str
    master_port: int
    timeout: timedelta
    threads_per_process: int | None
    init_method: str = "env://"

    def global_rank(self, local_rank: int) -> int:
        return self.node_rank * self.nproc_per_node + local_rank

    def environment(self, local_rank: int) -> dict[str, str]:
        # The same variables torchrun sets, so that code reading them behaves the same under both launchers.
        return {
            "RANK": str(self.global_rank(local_rank)),
            "LOCAL_RANK": str(local_rank),
            "WORLD_SIZE": str(self.nnodes * self.nproc_per_node),
            "LOCAL_WORLD_SIZE": str(self.nproc_per_node),
            "GROUP_RANK": str(self.node_rank),
            "GROUP_WORLD_SIZE": str(self.nnodes),
            "MASTER_ADDR": self.master_addr,
            "MASTER_PORT": str(self.master_port),
        }


class _Cause(enum.IntEnum):
    """How likely a failure is the root cause; the lowest value wins, then the earliest time."""

    RAISED = 0  # the process raised an ordinary exception
    DIED = 1  # the process ended without a report (signal, os._exit, crash)
    LOST_PEER = 2  # a collective failed: usually the consequence of another process failing, or a timeout


# Error text of collectives that failed because a peer went away or did not answer in time.
_COMMUNICATION_ERRORS = ("gloo/transport", "Connection closed by peer", "Connection reset by peer", "NCCL")


def _cause_of(exc: BaseException) -> _Cause:
    if isinstance(exc, dist.DistError):
        return _Cause.LOST_PEER
    if isinstance(exc, RuntimeError) and any(text in str(exc) for text in _COMMUNICATION_ERRORS):
        return _Cause.LOST_PEER
    return _Cause.RAISED


@dataclass
class _Failure:
    local_rank: int
    cause: _Cause
    summary: str
    details: str
    at: float
    pid: int | None = None
    exit_code: int | None = None  # for a process that ended without a report


def _die_with_parent(parent: int) -> None:
    """End this process with SIGTERM when the launcher dies (a killed launcher must not leave workers training)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
                if os.getppid() != parent:  # it died before the request was in place
                    os.kill(os.getpid(), signal.SIGTERM)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent,), name="cadence-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(
    local_rank: int,
    parent: int,
    conn: Connection,
    plan: SpawnPlan,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> None:
    _die_with_parent(parent)
    faulthandler.register(_STACK_SIGNAL, all_threads=True)  # the launcher asks a stuck rank for its stack
    os.environ.update(plan.environment(local_rank))
    if plan.threads_per_process is not None:
        torch.set_num_threads(plan.threads_per_process)
    try:
        initialize(plan.backend, init_method=plan.init_method, timeout=plan.timeout)
        payload = pickle.dumps(fn(local_rank, *args, **kwargs))
    except SystemExit as exc:  # a deliberate exit (e.g. Preempted): the launcher exits with the same status
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        _report(conn, ("exit", code, f"{type(exc).__name__}: {exc}", time.time()))
        destroy_group(synchronise=False)
        conn.close()
        sys.exit(code)
    except BaseException as exc:
        # Report before tearing anything down, so this report is older than the errors it causes elsewhere.
        summary = f"{type(exc).__name__}: {exc}"
        _report(conn, ("error", summary, traceback.format_exc(), time.time(), _cause_of(exc).value))
        destroy_group(synchronise=False)
        conn.close()
        sys.exit(1)
    destroy_group(synchronise=True)
    _report(conn, ("ok", payload))
    conn.close()


def _report(conn: Connection, message: tuple[Any, ...]) -> None:
    """Tell the launcher how this worker ended; a launcher that died (its pipe is broken) has nobody to tell."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        conn.send(message)


def destroy_group(*, synchronise: bool) -> None:
    """Destroy the default process group; after a success, first wait for every rank to get here."""
    end_group(synchronise=synchronise)


def start_processes(
    plan: SpawnPlan, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> list[Any]:
    """Run ``fn(local_rank, *args, **kwargs)`` in ``plan.nproc_per_node`` new processes; return their results."""
    context = torch_mp.get_context("spawn")
    processes: list[BaseProcess] = []
    connections: list[Connection] = []
    try:
        for local_rank in range(plan.nproc_per_node):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(local_rank, os.getpid(), sender, plan, fn, tuple(args), dict(kwargs)),
                name=f"cadence-rank-{plan.global_rank(local_rank)}",
            )
            try:
                process.start()
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                raise SpawnPicklingError(
                    f"Parallel.run could not send {fn!r} and its arguments to new processes ({exc}); "
                    "spawning needs a module-level function and picklable arguments (no lambdas or local functions)."
                ) from exc
            finally:
                sender.close()
            processes.append(process)
            connections.append(receiver)
        with _forwarding_signals(processes):
            return _supervise(plan, processes, connections)
    finally:
        _stop(processes)
        for connection in connections:
            connection.close()


def _supervise(plan: SpawnPlan, processes: list[BaseProcess], connections: list[Connection]) -> list[Any]:
    results: dict[int, Any] = {}
    failures: dict[int, _Failure] = {}
    exits: dict[int, int] = {}
    messages: dict[int, tuple[Any, ...]] = {}
    pending = set(range(len(processes)))
    listening = set(pending)
    deadline: float | None = None
    while pending and (deadline is None or time.monotonic() < deadline):
        waitables: list[Any] = [connections[i] for i in listening] + [processes[i].sentinel for i in pending]
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        wait(waitables, timeout)
        for local_rank in sorted(pending):
            _receive(local_rank, connections[local_rank], listening, messages)
            message = messages.get(local_rank)
            if message is not None and message[0] == "error":
                cause = _Cause(message[4])
                failures[local_rank] = _Failure(
                    local_rank, cause, message[1], message[2], message[3], processes[local_rank].pid
                )
                pending.discard(local_rank)
            elif message is not None and message[0] == "exit":
                exits[local_rank] = message[1]
                pending.discard(local_rank)
            elif processes[local_rank].exitcode is not None:
                processes[local_rank].join()
                _receive(local_rank, connections[local_rank], listening, messages)
                _finish(local_rank, processes[local_rank], messages.get(local_rank), results, failures)
                pending.discard(local_rank)
        if failures and deadline is None:
            deadline = time.monotonic() + _GRACE_SECONDS
    if failures:
        if pending and all(failure.cause is _Cause.LOST_PEER for failure in failures.values()):
            raise _stuck(plan, processes, sorted(pending), failures)
        raise _first_failure(plan, failures)
    if any(exits.values()):  # the processes chose to exit (e.g. preempted): so does the launcher, with their status
        raise SystemExit(max(exits.values()))
    return [results.get(local_rank) for local_rank in range(len(processes))]


def _stuck(
    plan: SpawnPlan, processes: list[BaseProcess], stuck: list[int], failures: dict[int, _Failure]
) -> ProcessFailedError:
    """Ranks that were still running when their peers gave up on a collective: those are the suspects."""
    for local_rank in stuck:
        with contextlib.suppress(OSError):
            os.kill(processes[local_rank].pid or 0, _STACK_SIGNAL)  # each prints its stack on its stderr
    time.sleep(0.5)
    waited = sorted(failures.values(), key=lambda failure: failure.at)[0]
    names = ", ".join(f"rank {plan.global_rank(local_rank)}" for local_rank in stuck)
    summary = (
        f"did not join a collective that rank {plan.global_rank(waited.local_rank)} gave up waiting for "
        f"({waited.summary.splitlines()[0]}); it was still running: the likely cause (stuck or much slower); "
        "its Python stack is printed on its stderr"
    )
    return ProcessRaisedError(
        rank=plan.global_rank(stuck[0]),
        local_rank=stuck[0],
        pid=processes[stuck[0]].pid,
        summary=summary if len(stuck) == 1 else f"{summary} (also still running: {names})",
        details=f"Traceback from rank {plan.global_rank(waited.local_rank)}, which waited:\n{waited.details}",
    )


@contextlib.contextmanager
def _forwarding_signals(processes: list[BaseProcess]) -> Iterator[None]:
    """Pass SIGTERM/SIGUSR1 sent to the launcher on to its live workers (which may save and exit cleanly)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(number: int, frame: Any) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(process.pid, number)

    previous = {number: signal.signal(number, forward) for number in _FORWARDED}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def _receive(
    local_rank: int, connection: Connection, listening: set[int], messages: dict[int, tuple[Any, ...]]
) -> None:
    if local_rank not in listening:
        return
    try:
        if connection.poll():
            messages[local_rank] = connection.recv()
            listening.discard(local_rank)
    except (EOFError, OSError):
        listening.discard(local_rank)


def _finish(
    local_rank: int,
    process: BaseProcess,
    message: tuple[Any, ...] | None,
    results: dict[int, Any],
    failures: dict[int, _Failure],
) -> None:
    if message is not None and message[0] == "ok":
        results[local_rank] = pickle.loads(message[1])
        return
    code = process.exitcode
    if code is not None and code < 0:
        summary = f"process was killed by signal {signal.Signals(-code).name}"
    else:
        summary = f"process exited with code {code} without reporting an error"
    failures[local_rank] = _Failure(
        local_rank, _Cause.DIED, summary, "", time.time(), process.pid, code if code is not None else 1
    )


def _first_failure(plan: SpawnPlan, failures: dict[int, _Failure]) -> ProcessFailedError:
    first = min(failures.values(), key=lambda failure: (failure.cause, failure.at))
    others = [
        f"rank {plan.global_rank(failure.local_rank)} also failed: {failure.summary}"
        for failure in sorted(failures.values(), key=lambda failure: (failure.cause, failure.at))
        if failure is not first
    ]
    details = "\n".join([*others, f"Traceback from rank {plan.global_rank(first.local_rank)}:", first.details])
    rank, local_rank, summary = plan.global_rank(first.local_rank), first.local_rank, first.summary
    if first.exit_code is not None:
        return ProcessExitedError(
            rank=rank, local_rank=local_rank, summary=summary, details=details, pid=first.pid, exit_code=first.exit_code
        )
    return ProcessRaisedError(rank=rank, local_rank=local_rank, summary=summary, details=details, pid=first.pid)


def _stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(_STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
