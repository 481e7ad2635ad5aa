"""Make and end this process's ``torch.distributed`` process group, spawn processes that each join one, and
describe the current setting (Ignite's ``idist.initialize``/``finalize``/``spawn``/``show_config``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.constants import default_pg_timeout

from cadence.distributed._elastic_store import round_store, uses_agent_store
from cadence.distributed.context import (
    available_backends,
    backend,
    device,
    get_local_rank,
    get_nnodes,
    get_node_rank,
    get_nproc_per_node,
    get_rank,
    get_world_size,
    hostname,
    model_name,
)
from cadence.distributed.slurm import REQUIRED_SLURM_VARIABLES, ddp_environment_from_slurm
from cadence.utils import setup_logger

__all__ = ["finalize", "free_port", "init_method", "initialize", "show_config", "sync"]

_ENV_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
_DEFAULT_MASTER_PORT = 15000
_UNSUPPORTED = {
    "horovod": "Horovod",
    "xla-tpu": "PyTorch/XLA (TPU)",
    "xla": "PyTorch/XLA (TPU)",
    "mpi": "MPI",
}


@dataclass(frozen=True)
class _OwnGroup:
    """The default process group made by :func:`initialize`, and what to undo at :func:`finalize`."""

    group: object
    init_method: str
    environment: dict[str, str]


# torch.distributed holds the process group itself; cadence only remembers how it made it, so that
# finalize() can restore the environment. A group made elsewhere never matches this record.
_own_group: list[_OwnGroup] = []


def check_backend(name: object) -> str:
    """Return ``name`` if this PyTorch offers it as a backend; otherwise raise a ``ValueError`` saying what to use."""
    backends = available_backends()
    if isinstance(name, str) and name in backends:
        return name
    hint = "cadence runs on torch.distributed: use 'nccl' on GPUs or 'gloo' on CPUs"
    if isinstance(name, str) and name.lower() in _UNSUPPORTED:
        hint = f"{_UNSUPPORTED[name.lower()]} is not supported; {hint}"
    raise ValueError(f"Backend should be one of '{backends}', got {name!r}: {hint}.")


def _prepare_slurm_environment(rank: int | None, world_size: int | None) -> None:
    if rank is not None or world_size is not None:
        raise ValueError("Arguments rank and world_size should not be specified with SLURM: SLURM's variables say.")
    for name in REQUIRED_SLURM_VARIABLES:
        if name not in os.environ:
            raise RuntimeError(f"SLURM distributed configuration is missing '{name}' in env variables.")
    for name, value in ddp_environment_from_slurm(os.environ).items():
        os.environ[name] = str(value)


def _prepare_environment(rank: int | None, world_size: int | None) -> None:
    if "SLURM_JOB_ID" in os.environ:
        _prepare_slurm_environment(rank, world_size)
        return
    given = [name for name in _ENV_VARIABLES if name in os.environ]
    if given and len(given) < len(_ENV_VARIABLES):
        raise RuntimeError(
            f"PyTorch distributed configuration should define env variables '{list(_ENV_VARIABLES)}', "
            f"but only {given} are set; launch with torchrun (which sets all of them) or unset them."
        )
    os.environ.setdefault("RANK", str(0 if rank is None else rank))
    os.environ.setdefault("WORLD_SIZE", str(1 if world_size is None else world_size))
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        # One process alone can take any free port; several must agree on one, so they get a fixed default.
        port = free_port() if os.environ["WORLD_SIZE"] == "1" else _DEFAULT_MASTER_PORT
        os.environ["MASTER_PORT"] = str(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (the system picks it; another process may take it later).

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def initialize(
    backend: str,
    *,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> None:
    """Make this process's ``torch.distributed`` process group with ``backend`` (``"gloo"`` or ``"nccl"``).

    Under torchrun the environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...) describes
    the group; under SLURM (``srun``) SLURM's variables do. Without either, a group of one process is made
    (``rank``/``world_size`` with a non-env ``init_method`` may say otherwise). Under torchrun each round of
    workers (a restart after a failure) gets keys of its own in torchrun's long-lived store, so a restarted
    group never reads the previous round's addresses (which makes ``init_process_group`` hang on torch 2.13).
    ``init_method`` defaults to ``"env://"``; a ``"file://..."`` method works too. On CUDA the process's
    device is set to its local rank. :func:`finalize` ends the group and restores the environment.

    Example:
        >>> initialize("gloo")
        >>> get_world_size(), model_name()
        (1, 'native-dist')
        >>> finalize()
    """
    check_backend(backend)
    if dist.is_initialized():
        raise RuntimeError(
            "Can not create new distributed process group if default one is already initialized; "
            "call finalize() first, or use the existing group as it is."
        )
    if init_method is not None and init_method.startswith("tcp://"):
        raise ValueError(
            f"TCP initialization via init_method='{init_method}' will hang. To fix this, please configure "
            "MASTER_ADDR and MASTER_PORT in the environment and use 'env://' (or omit init_method)."
        )
    if init_method is None and (rank is not None or world_size is not None):
        raise ValueError("Arguments rank and world_size should be None if no init_method is provided.")
    if (rank is None) != (world_size is None):
        raise ValueError(f"Both rank and world_size should be provided, but given {rank} and {world_size}.")
    if backend == "nccl" and not torch.cuda.is_available():
        raise RuntimeError("Nccl backend is required but no cuda capable devices are available; use backend='gloo'.")
    saved = dict(os.environ)
    try:
        _prepare_environment(rank, world_size)
    except BaseException:
        _restore_environment(saved)
        raise
    method = init_method or "env://"
    options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    if not method.startswith("env://"):
        options.update(rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
    local_rank = int(os.environ["LOCAL_RANK"])
    try:
        if torch.cuda.is_available() and local_rank < torch.cuda.device_count():
            torch.cuda.set_device(local_rank)
        if method.startswith("env://") and uses_agent_store():  # torchrun's store outlives each round of workers
            rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            store = round_store(rank, size, timeout or default_pg_timeout)
            dist.init_process_group(backend, store=store, rank=rank, world_size=size, **options)
        else:
            dist.init_process_group(backend, init_method=method, **options)
    except BaseException:
        _restore_environment(saved)
        raise
    _own_group[:] = [_OwnGroup(dist.group.WORLD, method, saved)]
    dist.barrier()


def _restore_environment(saved: Mapping[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


def init_method() -> str | None:
    """How the current process group was joined (e.g. ``"env://"``), if cadence made it; else ``None``.

    Example:
        >>> init_method() is None
        True
    """
    if _own_group and dist.is_initialized() and _own_group[0].group is dist.group.WORLD:
        return _own_group[0].init_method
    return None


def end_group(*, synchronise: bool) -> None:
    """Destroy the default process group (after a barrier when ``synchronise``) and undo :func:`initialize`."""
    record = _own_group[0] if _own_group else None
    _own_group.clear()
    if dist.is_initialized():
        owned = record is not None and record.group is dist.group.WORLD
        if synchronise:
            dist.barrier()
        # A DistributedDataParallel model keeps the group alive; collect unreachable ones now, so that the
        # group's threads end here and not during interpreter shutdown (which can abort).
        gc.collect()
        dist.destroy_process_group()
        if owned and record is not None:
            _restore_environment(record.environment)


def finalize() -> None:
    """End the process group (made by :func:`initialize` or by the user); a no-op in a single process.

    Example:
        >>> finalize()
    """
    end_group(synchronise=False)


def sync(temporary: bool = False) -> None:
    """Kept for Ignite's API: cadence reads the process group from ``torch.distributed`` at every call.

    So a group made or destroyed directly with ``torch.distributed`` is seen at once; nothing to sync.

    Example:
        >>> sync()
    """


def show_config() -> None:
    """Log the distributed setting (backend, device, ranks, sizes) at INFO level.

    Example:
        >>> show_config()
    """
    logger = setup_logger("cadence.distributed.utils")
    name = backend()
    lines = [
        f"distributed configuration: {model_name()}",
        f"backend: {None if name is None else name.value}",
        f"device: {device().type}",
        f"hostname: {hostname()}",
        f"world size: {get_world_size()}",
        f"rank: {get_rank()}",
        f"local rank: {get_local_rank()}",
        f"num processes per_node: {get_nproc_per_node()}",
        f"num nodes: {get_nnodes()}",
        f"node rank: {get_node_rank()}",
    ]
    for line in lines:
        logger.info(line)
