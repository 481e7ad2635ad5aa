"""Launch one function in every process: in this process, under torchrun, or in processes spawned here."""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any

import torch
import torch.distributed as dist

from cadence.distributed._spawn import ProcessFailedError, SpawnPlan, destroy_group, spawn
from cadence.distributed.context import Backend

__all__ = ["DEFAULT_TIMEOUT", "Parallel", "ProcessFailedError"]

DEFAULT_TIMEOUT = timedelta(minutes=10)
_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class _Mode(enum.Enum):
    SINGLE = "single process, no process group"
    ENVIRONMENT = "join the process group described by the environment (torchrun)"
    SPAWN = "spawn processes on this machine"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


def _as_timeout(value: timedelta | float) -> timedelta:
    timeout = value if isinstance(value, timedelta) else None
    if timeout is None and isinstance(value, int | float) and not isinstance(value, bool):
        timeout = timedelta(seconds=value)
    if timeout is None or timeout.total_seconds() <= 0:
        raise ValueError(f"timeout must be a positive timedelta or number of seconds, got {value!r}.")
    return timeout


class Parallel:
    """Run ``fn(local_rank, *args, **kwargs)`` in every process of a distributed job.

    * ``backend=None``: no process group; ``fn`` runs once, in this process.
    * ``backend`` without ``nproc_per_node``: join the group that torchrun describes in the environment
      (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...), multi-node included; with no such environment, a
      group of one process is made.
    * ``backend`` with ``nproc_per_node``: spawn that many processes on this machine (``nnodes > 1``: run
      the same on every node with its ``node_rank`` and a shared ``master_addr``/``master_port``).

    ``timeout`` is the process group's timeout: a collective that waits longer raises instead of hanging.
    When a spawned process raises, :meth:`run` stops the others and raises :class:`ProcessFailedError`
    naming that rank. The process group is destroyed on exit, also after an error.

    Example:
        >>> def train(local_rank, scale):
        ...     return local_rank * scale
        >>> with Parallel() as parallel:
        ...     parallel.run(train, 10)
        [0]
    """

    def __init__(
        self,
        backend: Backend | str | None = None,
        *,
        nproc_per_node: int | None = None,
        nnodes: int | None = None,
        node_rank: int | None = None,
        master_addr: str | None = None,
        master_port: int | None = None,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
    ) -> None:
        self.backend = None if backend is None else Backend.parse(backend)
        self.timeout = _as_timeout(timeout)
        self.nproc_per_node = None if nproc_per_node is None else _positive_int("nproc_per_node", nproc_per_node)
        self.nnodes = 1 if nnodes is None else _positive_int("nnodes", nnodes)
        self.node_rank = 0 if node_rank is None else node_rank
        if not isinstance(self.node_rank, int) or not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"node_rank must be an int in [0, {self.nnodes - 1}] (below nnodes), got {node_rank!r}.")
        if master_port is not None and not (isinstance(master_port, int) and 0 < master_port < 65536):
            raise ValueError(f"master_port must be a port number in 1..65535, got {master_port!r}.")
        self.master_addr = master_addr
        self.master_port = master_port
        self._mode = self._choose_mode(nnodes, node_rank)
        self._owns_group = False
        self._entered = False

    def _choose_mode(self, nnodes: int | None, node_rank: int | None) -> _Mode:
        spawn_options = {"nnodes": nnodes, "node_rank": node_rank, "master_addr": self.master_addr}
        spawn_options["master_port"] = self.master_port
        given = sorted(name for name, value in spawn_options.items() if value is not None)
        if self.backend is None:
            if self.nproc_per_node is not None or given:
                raise ValueError("nproc_per_node, nnodes, node_rank and master_* need a backend, e.g. backend='gloo'.")
            return _Mode.SINGLE
        if self.backend is Backend.NCCL and not torch.cuda.is_available():
            raise ValueError("backend 'nccl' needs CUDA, which is not available here; use backend='gloo'.")
        if self.nproc_per_node is None:
            if given:
                names = ", ".join(given)
                raise ValueError(f"{names} configure spawning and need nproc_per_node; under torchrun omit them.")
            return _Mode.ENVIRONMENT
        if "RANK" in os.environ:
            raise ValueError(
                "This process was started by a launcher (RANK is set), so it must not spawn more: drop nproc_per_node."
            )
        if self.nnodes > 1 and (self.master_addr is None or self.master_port is None):
            raise ValueError("With nnodes > 1 every node needs the same master_addr and master_port; give both.")
        if self.backend is Backend.NCCL and self.nproc_per_node > torch.cuda.device_count():
            raise ValueError(
                f"nproc_per_node={self.nproc_per_node} but only {torch.cuda.device_count()} CUDA device(s) are visible."
            )
        return _Mode.SPAWN

    def __enter__(self) -> Parallel:
        if self._entered:
            raise RuntimeError("This Parallel is already in use; make a new one for each `with` block.")
        self._entered = True
        if self._mode is _Mode.ENVIRONMENT and not dist.is_initialized():
            self._init_from_environment()
        return self

    def _init_from_environment(self) -> None:
        assert self.backend is not None
        if self.backend is Backend.NCCL and "LOCAL_RANK" in os.environ:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        if all(name in os.environ for name in _TORCHRUN_VARIABLES):
            dist.init_process_group(self.backend.value, init_method="env://", timeout=self.timeout)
        else:
            address = f"tcp://127.0.0.1:{_free_port('127.0.0.1')}"
            dist.init_process_group(self.backend.value, init_method=address, rank=0, world_size=1, timeout=self.timeout)
        self._owns_group = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._entered = False
        if self._owns_group:
            destroy_group(synchronise=exc_type is None)
        self._owns_group = False

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Call ``fn(local_rank, *args, **kwargs)`` in every process; return the results of those started here.

        The list holds one result per process this call ran, by local rank: ``[result]`` in this process
        (no backend, torchrun), ``nproc_per_node`` results when spawning.

        Example:
            >>> with Parallel() as parallel:
            ...     parallel.run(lambda local_rank, name: f"{name} on {local_rank}", "job")
            ['job on 0']
        """
        if not callable(fn):
            raise TypeError(f"Parallel.run needs a callable fn(local_rank, *args), got {fn!r}.")
        if not self._entered:
            raise RuntimeError("Use Parallel as a context manager: `with Parallel(...) as parallel: parallel.run(fn)`.")
        if self._mode is not _Mode.SPAWN:
            local_rank = int(os.environ.get("LOCAL_RANK", "0")) if self._mode is _Mode.ENVIRONMENT else 0
            return [fn(local_rank, *args, **kwargs)]
        return spawn(self._plan(), fn, args, kwargs)

    def _plan(self) -> SpawnPlan:
        assert self.backend is not None and self.nproc_per_node is not None
        master_addr = self.master_addr or "127.0.0.1"
        master_port = self.master_port if self.master_port is not None else _free_port(master_addr)
        threads = None
        if "OMP_NUM_THREADS" not in os.environ and self.nproc_per_node > 1:  # share the cores, as torchrun does
            threads = max(1, (os.cpu_count() or 1) // self.nproc_per_node)
        return SpawnPlan(
            backend=self.backend.value,
            nproc_per_node=self.nproc_per_node,
            nnodes=self.nnodes,
            node_rank=self.node_rank,
            master_addr=master_addr,
            master_port=master_port,
            timeout=self.timeout,
            threads_per_process=threads,
        )

    def __repr__(self) -> str:
        backend = None if self.backend is None else self.backend.value
        return f"Parallel(backend={backend!r}, nproc_per_node={self.nproc_per_node}, mode={self._mode.name})"
