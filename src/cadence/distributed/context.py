"""Where this process stands: rank, world size, node and device, read from ``torch.distributed``.

Every query also works when no process group exists; it then describes a single process (rank 0 of 1).
"""

from __future__ import annotations

import enum
import os
import socket

import torch
import torch.distributed as dist

__all__ = [
    "Backend",
    "available_backends",
    "backend",
    "device",
    "get_local_rank",
    "get_nnodes",
    "get_node_rank",
    "get_nproc_per_node",
    "get_rank",
    "get_world_size",
    "has_hvd_support",
    "has_native_dist_support",
    "has_xla_support",
    "hostname",
    "is_distributed",
    "model_name",
    "set_local_rank",
]

#: ``torch.distributed`` is available in this PyTorch build (Ignite's flag of the same name).
has_native_dist_support: bool = dist.is_available()
#: cadence runs on ``torch.distributed`` only: Horovod is not a supported backend.
has_hvd_support: bool = False
#: cadence runs on ``torch.distributed`` only: XLA/TPU is not a supported backend.
has_xla_support: bool = False


class Backend(str, enum.Enum):
    """The ``torch.distributed`` backends cadence supports; equal to their plain names.

    Example:
        >>> Backend("gloo") is Backend.GLOO, Backend.NCCL == "nccl", f"{Backend.GLOO}"
        (True, True, 'gloo')
    """

    GLOO = "gloo"
    NCCL = "nccl"

    def __str__(self) -> str:
        # Printed as its plain name (f"{backend()}" gives "gloo"), as Ignite's string backends are.
        return self.value

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)

    @classmethod
    def parse(cls, value: Backend | str) -> Backend:
        """Turn ``"gloo"``/``"nccl"`` (any case) into a :class:`Backend`, or raise a ``ValueError``.

        Example:
            >>> Backend.parse("GLOO")
            <Backend.GLOO: 'gloo'>
        """
        if isinstance(value, Backend):
            return value
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        choices = ", ".join(repr(member.value) for member in cls)
        raise ValueError(
            f"Unknown backend {value!r}. Available backends: {choices}; cadence runs on torch.distributed only "
            "(use 'nccl' on GPUs, 'gloo' on CPUs, or None for a single process)."
        )


def is_distributed() -> bool:
    """``True`` when a ``torch.distributed`` process group is initialised in this process.

    Example:
        >>> is_distributed()
        False
    """
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's global rank (0 when not distributed).

    Example:
        >>> get_rank()
        0
    """
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """The number of processes taking part (1 when not distributed).

    Example:
        >>> get_world_size()
        1
    """
    return dist.get_world_size() if is_distributed() else 1


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"Environment variable {name}={raw!r} is not an integer; unset it or fix its value.") from None


# The local rank a user declared with set_local_rank(): the one hint that torch.distributed cannot hold.
_local_rank_hint: list[int] = []


def set_local_rank(index: int) -> None:
    """Declare this process's local rank, for a process group made without ``LOCAL_RANK`` in the environment.

    ``LOCAL_RANK`` (set by torchrun, :func:`spawn` and :class:`Parallel`) takes precedence when present.

    Example:
        >>> set_local_rank(0)
    """
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"set_local_rank needs a non-negative int, got {index!r}.")
    _local_rank_hint[:] = [index]


def local_rank_hint() -> int | None:
    """The index given to :func:`set_local_rank`, if any.

    Example:
        >>> set_local_rank(0); local_rank_hint()
        0
    """
    return _local_rank_hint[0] if _local_rank_hint else None


def clear_local_rank_hint() -> None:
    """Forget the index given to :func:`set_local_rank`.

    Example:
        >>> clear_local_rank_hint(); local_rank_hint() is None
        True
    """
    _local_rank_hint.clear()


def get_local_rank() -> int:
    """This process's rank on its own machine, from ``LOCAL_RANK`` (set by torchrun and by :class:`Parallel`).

    Falls back to the index given to :func:`set_local_rank`, then to ``rank % nproc_per_node``, and is 0
    when not distributed.

    Example:
        >>> get_local_rank()
        0
    """
    if not is_distributed():
        return 0
    local_rank = _env_int("LOCAL_RANK")
    if local_rank is not None:
        return local_rank
    if _local_rank_hint:
        return _local_rank_hint[0]
    return get_rank() % get_nproc_per_node()


def get_nproc_per_node() -> int:
    """Processes per machine, from ``LOCAL_WORLD_SIZE`` (torchrun, :class:`Parallel`), else the world size.

    Example:
        >>> get_nproc_per_node()
        1
    """
    if not is_distributed():
        return 1
    local_world_size = _env_int("LOCAL_WORLD_SIZE")
    return local_world_size if local_world_size is not None else get_world_size()


def get_nnodes() -> int:
    """The number of machines (nodes) taking part: ``world_size // nproc_per_node``.

    Example:
        >>> get_nnodes()
        1
    """
    return max(1, get_world_size() // get_nproc_per_node())


def get_node_rank() -> int:
    """The index of this machine among the nodes: ``rank // nproc_per_node``.

    Example:
        >>> get_node_rank()
        0
    """
    return get_rank() // get_nproc_per_node()


def backend() -> Backend | None:
    """The backend of the current process group (a :class:`Backend`, equal to its name), or ``None``.

    Example:
        >>> backend() is None
        True
    """
    if not is_distributed():
        return None
    name = str(dist.get_backend())
    try:
        return Backend(name)
    except ValueError:
        raise RuntimeError(
            f"The process group uses backend {name!r}, which cadence does not support; initialise it with gloo or nccl."
        ) from None


def device() -> torch.device:
    """The device this process should compute on: ``cuda:<local rank>`` when CUDA is present, else the CPU.

    In a single process without CUDA, Apple's ``mps`` device is used when it is available.

    Example:
        >>> device().type in ("cuda", "mps", "cpu")
        True
    """
    if torch.cuda.is_available():
        return torch.device("cuda", get_local_rank() % torch.cuda.device_count())
    if not is_distributed() and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_backends() -> tuple[str, ...]:
    """The ``torch.distributed`` backends this PyTorch build offers, among those cadence supports.

    Example:
        >>> "gloo" in available_backends()
        True
    """
    if not has_native_dist_support:
        return ()
    return tuple(member.value for member in Backend if getattr(dist, f"is_{member.value}_available")())


def model_name() -> str:
    """Ignite's name of the current setting: ``"native-dist"`` inside a process group, else ``"serial"``.

    Example:
        >>> model_name()
        'serial'
    """
    return "native-dist" if is_distributed() else "serial"


def hostname() -> str:
    """The name of the machine this process runs on.

    Example:
        >>> isinstance(hostname(), str)
        True
    """
    return socket.gethostname()
