"""Launch one function in every process: in this process, under torchrun, or in processes spawned here."""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

import torch
import torch.distributed as dist

from cadence.distributed._spawn import (
    ProcessExitedError,
    ProcessFailedError,
    ProcessRaisedError,
    SpawnPicklingError,
    SpawnPlan,
    start_processes,
)
from cadence.distributed.context import Backend, get_local_rank, get_world_size
from cadence.distributed.process_group import check_backend, end_group, free_port, initialize
from cadence.utils import setup_logger

__all__ = [
    "DEFAULT_TIMEOUT",
    "Parallel",
    "ProcessExitedError",
    "ProcessFailedError",
    "ProcessRaisedError",
    "SpawnPicklingError",
    "spawn",
]

DEFAULT_TIMEOUT = timedelta(minutes=10)


class _Mode(enum.Enum):
    SINGLE = "single process, no process group"
    ENVIRONMENT = "join the process group described by the environment (torchrun)"
    SPAWN = "spawn processes on this machine"


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Argument {name} should positive, but given {value!r} (a positive int).")
    return value


def _as_port(value: object) -> int | None:
    if value is None:
        return None
    port = int(value) if isinstance(value, str) and value.isdigit() else value
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"master_port must be a port number in 1..65535, got {value!r}.")
    return port


def _as_timeout(value: timedelta | float) -> timedelta:
    timeout = value if isinstance(value, timedelta) else None
    if timeout is None and isinstance(value, int | float) and not isinstance(value, bool):
        timeout = timedelta(seconds=value)
    if timeout is None or timeout.total_seconds() <= 0:
        raise ValueError(f"timeout must be a positive timedelta or number of seconds, got {value!r}.")
    return timeout


def _check_spawn_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - {"start_method", "join", "daemon"})
    if unknown:
        raise TypeError(f"Parallel got unexpected options {unknown}.")
    if options.get("join", True) is not True:
        raise ValueError("Parallel always waits for the processes it spawns (join=True).")


class Parallel:
    """Run ``fn(local_rank, *args, **kwargs)`` in every process of a distributed job.

    * ``backend=None``: no process group; ``fn`` runs once, in this process.
    * ``backend`` without ``nproc_per_node``: join the group that torchrun describes in the environment
      (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...), multi-node included; with no such environment, a
      group of one process is made.
    * ``backend`` with ``nproc_per_node``: spawn that many processes on this machine (``nnodes > 1``: run
      the same on every node with its ``node_rank`` and a shared ``master_addr``/``master_port``).

    ``init_method`` is ``"env://"`` by default; ``"file://<path>"`` also works. ``timeout`` is the process
    group's timeout: a collective that waits longer raises instead of hanging. When a spawned process
    raises, :meth:`run` stops the others and raises :class:`ProcessFailedError` naming that rank. The
    process group is destroyed on exit, also after an error. ``start_method`` is accepted for Ignite's
    API; processes are always started with ``"spawn"``.

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
        nproc_per_node: int | None = None,
        nnodes: int | None = None,
        node_rank: int | None = None,
        master_addr: str | None = None,
        master_port: int | str | None = None,
        init_method: str | None = None,
        *,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        **spawn_options: Any,
    ) -> None:
        self.backend = None if backend is None else Backend.parse(backend)
        if self.backend is None:
            given: dict[str, object] = {"nproc_per_node": nproc_per_node, "nnodes": nnodes, "node_rank": node_rank}
            given.update(master_addr=master_addr, master_port=master_port, init_method=init_method)
            for name, value in given.items():
                if value is not None:
                    raise ValueError(
                        f"If backend is None, argument '{name}' should be also None, but given {value!r}: "
                        "spawning processes needs a backend, e.g. backend='gloo'."
                    )
        if init_method is not None and init_method.startswith("tcp://"):
            raise ValueError(
                f"TCP initialization via init_method='{init_method}' will hang. To fix this, please configure "
                "MASTER_ADDR and MASTER_PORT in the environment and use 'env://' (or omit init_method)."
            )
        _check_spawn_options(spawn_options)
        self.timeout = _as_timeout(timeout)
        self.init_method = init_method
        self.nproc_per_node = None if nproc_per_node is None else _positive_int("nproc_per_node", nproc_per_node)
        self.nnodes = 1 if nnodes is None else _positive_int("nnodes", nnodes)
        if node_rank is None and self.nnodes > 1 and self.nproc_per_node is not None:
            raise ValueError("If number of nodes larger than one, arguments node_rank should be given.")
        self.node_rank = 0 if node_rank is None else node_rank
        if not isinstance(self.node_rank, int) or not 0 <= self.node_rank < self.nnodes:
            raise ValueError(
                f"Argument node_rank should be between 0 and {self.nnodes - 1} (below nnodes), but given {node_rank!r}."
            )
        self.master_addr = master_addr
        self.master_port = _as_port(master_port)
        self._mode = self._choose_mode(nnodes, node_rank)
        self._owns_group = False
        self._entered = False
        self._logger: logging.Logger | None = None

    def _choose_mode(self, nnodes: int | None, node_rank: int | None) -> _Mode:
        spawn_options = {"nnodes": nnodes, "node_rank": node_rank, "master_addr": self.master_addr}
        spawn_options["master_port"] = self.master_port
        given = sorted(name for name, value in spawn_options.items() if value is not None)
        if self.backend is None:
            return _Mode.SINGLE
        if self.backend is Backend.NCCL and not torch.cuda.is_available():
            raise ValueError("backend 'nccl' needs CUDA, which is not available here; use backend='gloo'.")
        if self.nproc_per_node is None:
            if given:
                names = ", ".join(given)
                raise ValueError(f"{names} configure spawning and need nproc_per_node; under torchrun omit them.")
            return _Mode.ENVIRONMENT
        if "TORCHELASTIC_RUN_ID" in os.environ or ("RANK" in os.environ and os.environ.get("WORLD_SIZE", "1") != "1"):
            raise ValueError(
                "This process was started by a launcher (torchrun, or RANK and WORLD_SIZE > 1 are set), "
                "so it must not spawn more: drop nproc_per_node."
            )
        if self.nnodes > 1 and (self.master_addr is None or self.master_port is None) and self.init_method is None:
            raise ValueError(
                "If number of nodes larger than one, arguments master_addr and master_port or init_method "
                f"should be specified (the same on every node), but given master_addr={self.master_addr}, "
                f"master_port={self.master_port} and init_method={self.init_method}."
            )
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
            assert self.backend is not None
            initialize(self.backend.value, init_method=self.init_method, timeout=self.timeout)
            self._owns_group = True
        self._logger = setup_logger(f"{__name__}.{type(self).__name__}")
        if self._mode is _Mode.ENVIRONMENT:
            self._logger.info(f"Initialized processing group with backend: '{self._backend_name}'")
        elif self._mode is _Mode.SPAWN:
            self._logger.info(f"Initialized distributed launcher with backend: '{self._backend_name}'")
            settings = "\n\t".join(f"{name}: {value}" for name, value in self._spawn_settings().items())
            self._logger.info(f"- Parameters to spawn processes: \n\t{settings}")
        return self

    @property
    def _backend_name(self) -> str | None:
        return None if self.backend is None else self.backend.value

    def _spawn_settings(self) -> dict[str, Any]:
        settings = {
            "nproc_per_node": self.nproc_per_node,
            "nnodes": self.nnodes,
            "node_rank": self.node_rank,
            "master_addr": self.master_addr,
            "master_port": self.master_port,
            "init_method": self.init_method,
        }
        return {name: value for name, value in settings.items() if value is not None}

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._entered = False
        if self._owns_group:
            if self._logger is not None:
                self._logger.info(f"Finalized processing group with backend: '{self._backend_name}'")
            end_group(synchronise=exc_type is None)
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
        if not self._entered or self._logger is None:
            raise RuntimeError("Use Parallel as a context manager: `with Parallel(...) as parallel: parallel.run(fn)`.")
        if self._mode is _Mode.SPAWN:
            self._logger.info(f"Spawn function '{fn}' in {self.nproc_per_node} processes")
            results = start_processes(self.spawn_plan(), fn, args, kwargs)
        else:
            self._logger.info(f"- Run '{fn}' in {get_world_size()} processes")
            results = [fn(get_local_rank(), *args, **kwargs)]
        self._logger.info("End of run")
        return results

    def spawn_plan(self) -> SpawnPlan:
        """What spawning starts: the backend, the processes of this node and their ranks, the group's address
        (a free port when none was given). Raises ``ValueError`` unless this launcher spawns.

        Example:
            >>> plan = Parallel("gloo", nproc_per_node=2, master_port=29511).spawn_plan()
            >>> plan.nproc_per_node, plan.global_rank(1), plan.master_addr, plan.master_port
            (2, 1, '127.0.0.1', 29511)
        """
        if self._mode is not _Mode.SPAWN or self.backend is None or self.nproc_per_node is None:
            raise ValueError("Spawning processes needs a backend and nproc_per_node.")
        master_addr = self.master_addr or "127.0.0.1"
        master_port = self.master_port if self.master_port is not None else free_port(master_addr)
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
            init_method=self.init_method or "env://",
        )

    def __repr__(self) -> str:
        return f"Parallel(backend={self._backend_name!r}, nproc_per_node={self.nproc_per_node}, mode={self._mode.name})"


_SPAWN_OPTIONS = frozenset({"nnodes", "node_rank", "master_addr", "master_port", "init_method", "timeout"})


def spawn(
    backend: str,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs_dict: Mapping[str, Any] | None = None,
    nproc_per_node: int = 1,
    **kwargs: Any,
) -> list[Any]:
    """Start ``nproc_per_node`` processes that each join a ``backend`` group and call ``fn(local_rank, *args)``.

    Options: ``nnodes``, ``node_rank``, ``master_addr``, ``master_port`` (several nodes), ``init_method``
    (``"env://"`` by default, or ``"file://..."``) and ``timeout``. When a process fails, the others are
    stopped and :class:`ProcessFailedError` names the failing rank. Returns the results by local rank.
    ``fn`` must be a module-level function (processes are started with ``spawn``).

    Example:
        >>> try:
        ...     spawn("xla-tpu", print, args=())
        ... except ValueError as error:
        ...     print(str(error).split(": ", 1)[1])
        PyTorch/XLA (TPU) is not supported; cadence runs on torch.distributed: use 'nccl' on GPUs or 'gloo' on CPUs.
    """
    check_backend(backend)
    unknown = sorted(set(kwargs) - _SPAWN_OPTIONS - {"start_method", "join", "daemon"})
    if unknown:
        raise TypeError(f"spawn got unexpected options {unknown}; it accepts {sorted(_SPAWN_OPTIONS)}.")
    if kwargs.pop("join", True) is not True:
        raise ValueError("spawn always waits for its processes (join=True); run it in a thread to wait elsewhere.")
    kwargs.pop("daemon", None)
    kwargs.pop("start_method", None)  # processes are always started with "spawn": fork is unsafe with CUDA
    method = kwargs.pop("init_method", None)
    for name in ("master_addr", "master_port"):
        if method not in (None, "env://") and kwargs.get(name) is not None:
            raise ValueError(f"{name} should be None if init_method is provided other then 'env://' ({method!r}).")
    parallel = Parallel(backend, nproc_per_node=nproc_per_node, init_method=method, **kwargs)
    return start_processes(parallel.spawn_plan(), fn, tuple(args), dict(kwargs_dict or {}))
