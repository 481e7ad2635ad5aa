"""Where this process stands: rank, world size, node and device, read from ``torch.distributed``.

Every query also works when no process group exists; it then describes a single process (rank 0 of 1).
"""

from __future__ import annotations

import enum
import os

import torch
import torch.distributed as dist

__all__ = [
    "Backend",
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
    "is_distributed",
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
        >>> Backend("gloo") is Backend.GLOO, Backend.NCCL == "nccl"
        (True, True)
    """

    GLOO = "gloo"
    NCCL = "nccl"

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
        raise ValueError(f"Unknown backend {value!r}; use one of {choices} (or None for a single process).")


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


def get_local_rank() -> int:
    """This process's rank on its own machine, from ``LOCAL_RANK`` (set by torchrun and by :class:`Parallel`).

    Falls back to ``rank % nproc_per_node`` when ``LOCAL_RANK`` is not set, and to 0 when not distributed.

    Example:
        >>> get_local_rank()
        0
    """
    if not is_distributed():
        return 0
    local_rank = _env_int("LOCAL_RANK")
    return local_rank if local_rank is not None else get_rank() % get_nproc_per_node()


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

    Example:
        >>> device() == (torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu"))
        True
    """
    if torch.cuda.is_available():
        return torch.device("cuda", get_local_rank() % torch.cuda.device_count())
    return torch.device("cpu")
