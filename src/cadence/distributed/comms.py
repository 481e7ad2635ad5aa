"""Collectives that work the same in one process and in many: reduce, gather, broadcast, barrier.

Without a process group every collective is the identity on this process's value (a gather returns a
one-element result), so code written for many processes runs unchanged in one.
"""

from __future__ import annotations

import enum
import functools
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any, ParamSpec, TypeVar, overload

import torch
import torch.distributed as dist

from cadence.distributed.context import (
    Backend,
    backend,
    device,
    get_local_rank,
    get_nproc_per_node,
    get_rank,
    get_world_size,
    is_distributed,
)
from cadence.distributed.groups import in_group, resolve_group

__all__ = [
    "ReduceOp",
    "all_gather",
    "all_gather_tensors_with_shapes",
    "all_reduce",
    "barrier",
    "broadcast",
    "one_rank_first",
    "one_rank_only",
]

P = ParamSpec("P")
R = TypeVar("R")
NumberT = TypeVar("NumberT", int, float)

_MAX_DIMS = 8


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the values of all processes.

    Example:
        >>> ReduceOp.parse("MAX")
        <ReduceOp.MAX: 'MAX'>
    """

    SUM = "SUM"
    MIN = "MIN"
    MAX = "MAX"
    PRODUCT = "PRODUCT"
    AND = "AND"
    OR = "OR"

    @classmethod
    def parse(cls, value: ReduceOp | str) -> ReduceOp:
        """Accept a :class:`ReduceOp` or Ignite's names (``"SUM"``, ``"MIN"``, ``"MAX"``, ``"PRODUCT"``,
        ``"AND"``, ``"OR"``; any case).

        Example:
            >>> ReduceOp.parse("sum") is ReduceOp.SUM
            True
        """
        if isinstance(value, ReduceOp):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        choices = ", ".join(repr(member.value) for member in cls)
        raise ValueError(f"Unsupported reduction operation: {value!r}; use a ReduceOp or one of {choices}.")

    def to_torch(self) -> dist.ReduceOp.RedOpType:
        """The matching ``torch.distributed.ReduceOp``.

        Example:
            >>> ReduceOp.SUM.to_torch() == torch.distributed.ReduceOp.SUM
            True
        """
        return {
            ReduceOp.SUM: dist.ReduceOp.SUM,
            ReduceOp.MIN: dist.ReduceOp.MIN,
            ReduceOp.MAX: dist.ReduceOp.MAX,
            ReduceOp.PRODUCT: dist.ReduceOp.PRODUCT,
            ReduceOp.AND: dist.ReduceOp.BAND,
            ReduceOp.OR: dist.ReduceOp.BOR,
        }[self]


def _comm_device() -> torch.device:
    # gloo moves CPU tensors; nccl moves tensors on this process's GPU.
    return device() if backend() is Backend.NCCL else torch.device("cpu")


def _check_number(value: object, name: str) -> None:
    if not isinstance(value, int | float | torch.Tensor):
        raise TypeError(
            f"Unhandled input type {type(value).__name__}: {name} takes a tensor or a Python int/float, got {value!r}."
        )


@overload
def all_reduce(tensor: torch.Tensor, op: ReduceOp | str = ..., group: Any = ...) -> torch.Tensor: ...
@overload
def all_reduce(tensor: NumberT, op: ReduceOp | str = ..., group: Any = ...) -> NumberT: ...
def all_reduce(
    tensor: torch.Tensor | float, op: ReduceOp | str = ReduceOp.SUM, group: Any = None
) -> torch.Tensor | float:
    """Combine ``tensor`` over all processes with ``op`` and give every process the result.

    A tensor is reduced in place and returned; a Python number gives back a number of the same type
    (``bool`` counts as ``int``). In one process the value comes back unchanged. ``group`` (a list of
    global ranks or a process group) limits the reduction to those processes; the others get their
    value back unchanged.

    Example:
        >>> all_reduce(torch.tensor([1.0, 2.0]), "SUM")
        tensor([1., 2.])
        >>> all_reduce(3, ReduceOp.MAX)
        3
    """
    reduce_op = ReduceOp.parse(op)
    _check_number(tensor, "all_reduce")
    if not is_distributed():
        resolve_group(group)
        return tensor
    process_group = resolve_group(group)
    if not in_group(process_group):
        return tensor
    if isinstance(tensor, torch.Tensor):
        _reduce_tensor_in_place(tensor, reduce_op, process_group)
        return tensor
    dtype = torch.float64 if isinstance(tensor, float) else torch.int64
    reduced = torch.tensor(tensor, dtype=dtype, device=_comm_device())
    dist.all_reduce(reduced, op=reduce_op.to_torch(), group=process_group)
    return float(reduced.item()) if isinstance(tensor, float) else int(reduced.item())


def _reduce_tensor_in_place(tensor: torch.Tensor, op: ReduceOp, group: dist.ProcessGroup | None) -> None:
    work = tensor
    if work.dtype == torch.bool:
        work = work.to(torch.uint8)
    work = work.to(_comm_device()).contiguous()
    dist.all_reduce(work, op=op.to_torch(), group=group)
    if work is not tensor:
        tensor.copy_(work)


@overload
def all_gather(tensor: torch.Tensor, group: Any = ...) -> torch.Tensor: ...  # type: ignore[overload-overlap]  # tensors match first
@overload
def all_gather(tensor: NumberT, group: Any = ...) -> list[NumberT]: ...
@overload
def all_gather(tensor: R, group: Any = ...) -> list[R]: ...
def all_gather(tensor: Any, group: Any = None) -> Any:
    """Collect ``tensor`` from every process, in rank order.

    Tensors are concatenated along dim 0 (a 0-dim tensor counts as one row), and the ranks may hold
    different numbers of rows; the other dims must match. Numbers, strings and any picklable object
    come back as a list with one entry per rank. With ``group`` (a list of global ranks or a process
    group) only those processes take part; the others get their own value back unchanged.

    Example:
        >>> all_gather(torch.tensor([[1, 2], [3, 4]]))
        tensor([[1, 2],
                [3, 4]])
        >>> all_gather(torch.tensor(5.0))
        tensor([5.])
        >>> all_gather(0.5), all_gather("rank0")
        ([0.5], ['rank0'])
    """
    process_group = resolve_group(group)
    if isinstance(tensor, torch.Tensor):
        rows = tensor.unsqueeze(0) if tensor.dim() == 0 else tensor
        if not is_distributed():
            return rows
        return _gather_tensor(rows, process_group) if in_group(process_group) else tensor
    if not is_distributed():
        return [tensor]
    if not in_group(process_group):
        return tensor
    if isinstance(tensor, int | float) and not isinstance(tensor, bool):
        dtype = torch.float64 if isinstance(tensor, float) else torch.int64
        gathered = _gather_tensor(torch.tensor([tensor], dtype=dtype, device=_comm_device()), process_group)
        return [type(tensor)(item) for item in gathered.tolist()]
    objects: list[Any] = [None] * dist.get_world_size(process_group)
    dist.all_gather_object(objects, tensor, group=process_group)
    return objects


def _gather_shapes(tensor: torch.Tensor, group: dist.ProcessGroup | None) -> list[tuple[int, ...]]:
    if tensor.dim() > _MAX_DIMS:
        raise ValueError(f"all_gather supports tensors of up to {_MAX_DIMS} dims, got shape {tuple(tensor.shape)}.")
    header = torch.full((_MAX_DIMS + 1,), -1, dtype=torch.int64, device=_comm_device())
    header[0] = tensor.dim()
    header[1 : tensor.dim() + 1] = torch.tensor(tensor.shape, dtype=torch.int64)
    headers = [torch.empty_like(header) for _ in range(dist.get_world_size(group))]
    dist.all_gather(headers, header, group=group)
    return [tuple(int(size) for size in row[1 : int(row[0]) + 1]) for row in headers]


def _gather_tensor(tensor: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:
    shapes = _gather_shapes(tensor, group)
    if any(shape[1:] != shapes[0][1:] for shape in shapes):
        raise ValueError(f"all_gather needs tensors whose shapes differ only in dim 0; the ranks hold shapes {shapes}.")
    longest = max(shape[0] for shape in shapes)
    work = tensor.to(_comm_device())
    if work.dtype == torch.bool:
        work = work.to(torch.uint8)
    padded = work.new_zeros((longest, *work.shape[1:]))
    padded[: work.shape[0]] = work
    received = [torch.empty_like(padded) for _ in shapes]
    dist.all_gather(received, padded.contiguous(), group=group)
    rows = torch.cat([part[: shape[0]] for part, shape in zip(received, shapes, strict=True)])
    return rows.to(device=tensor.device, dtype=tensor.dtype)


@overload
def broadcast(tensor: torch.Tensor, src: int = ..., safe_mode: bool = ...) -> torch.Tensor: ...
@overload
def broadcast(tensor: R, src: int = ..., safe_mode: bool = ...) -> R: ...
def broadcast(tensor: Any, src: int = 0, safe_mode: bool = False) -> Any:
    """Give every process the value held by rank ``src``.

    Tensors, numbers, strings and paths are supported, as in Ignite (send other objects with
    :func:`all_gather`). Ranks other than ``src`` pass a placeholder: a tensor of the source's shape and
    dtype is filled in place; any other value, or ``None`` with ``safe_mode=True``, is replaced. The
    value's kind and shape always travel first, so a placeholder never needs to match. In one process
    the value comes back unchanged.

    Example:
        >>> broadcast(torch.arange(3)), broadcast("hello", src=0)
        (tensor([0, 1, 2]), 'hello')
    """
    world_size = get_world_size()
    if not isinstance(src, int) or isinstance(src, bool) or not 0 <= src < world_size:
        raise ValueError(f"broadcast src must be a rank in [0, {world_size - 1}], got {src!r}.")
    is_src = get_rank() == src
    if is_src and tensor is None:
        raise ValueError(f"Source data can not be None: rank {src} is the broadcast source and must pass a value.")
    if tensor is None and not safe_mode:
        raise ValueError(
            "Argument safe_mode should be True if None is passed for non src rank: pass safe_mode=True, or a "
            "placeholder of the value's kind."
        )
    if tensor is not None and not isinstance(tensor, torch.Tensor | numbers.Number | str | PurePath):
        raise TypeError(
            f"Unhandled input type {type(tensor).__name__}: broadcast sends tensors, numbers, strings and paths; "
            "use all_gather for other objects."
        )
    if not is_distributed():
        return tensor
    value: Any = tensor
    # A small header says what is coming, so that other ranks need not know the value's kind or shape.
    if is_src and isinstance(value, torch.Tensor):
        header: list[Any] = [("tensor", tuple(value.shape), value.dtype)]
    else:
        header = [("object", value if is_src else None)]
    dist.broadcast_object_list(header, src=src, device=_comm_device())
    kind, *details = header[0]
    if kind == "object":
        return details[0]
    shape, dtype = details
    if is_src:
        payload = value.to(_comm_device()).contiguous()
    else:
        payload = torch.empty(shape, dtype=dtype, device=_comm_device())
    dist.broadcast(payload, src=src)
    if is_src:
        return value
    if isinstance(value, torch.Tensor) and tuple(value.shape) == shape and value.dtype == dtype:
        value.copy_(payload)
        return value
    return payload.to(value.device) if isinstance(value, torch.Tensor) else payload.to(device())


def barrier() -> None:
    """Wait until every process has reached this point (no-op in one process).

    Example:
        >>> barrier()
    """
    if is_distributed():
        dist.barrier()


def all_gather_tensors_with_shapes(
    tensor: torch.Tensor, shapes: Sequence[Sequence[int]], group: Any = None
) -> list[torch.Tensor]:
    """Gather tensors whose shapes differ in any dim (same number of dims) when every shape is known.

    ``shapes`` holds each participating rank's shape, in rank order; it is faster than gathering objects.
    Processes outside ``group`` get ``[tensor]`` back.

    Example:
        >>> [t.shape for t in all_gather_tensors_with_shapes(torch.zeros(2, 3), [[2, 3]])]
        [torch.Size([2, 3])]
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"all_gather_tensors_with_shapes takes a tensor, got {type(tensor).__name__}.")
    process_group = resolve_group(group)
    if not in_group(process_group):
        return [tensor]
    size = dist.get_world_size(process_group) if is_distributed() else 1
    index = dist.get_rank(process_group) if is_distributed() else 0
    wanted = [tuple(int(dim) for dim in shape) for shape in shapes]
    if len(wanted) != size or any(len(shape) != tensor.dim() for shape in wanted):
        raise ValueError(
            f"shapes must give one {tensor.dim()}-dim shape per participating process ({size}), got {shapes!r}."
        )
    if wanted[index] != tuple(tensor.shape):
        raise ValueError(
            f"shapes[{index}]={list(wanted[index])} but this process's tensor has shape {list(tensor.shape)}."
        )
    if size == 1:
        return [tensor]
    largest = [max(shape[dim] for shape in wanted) for dim in range(tensor.dim())]
    padding = [amount for dim in reversed(range(tensor.dim())) for amount in (0, largest[dim] - tensor.shape[dim])]
    padded = torch.nn.functional.pad(tensor, padding).to(_comm_device()).contiguous()
    received = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(received, padded, group=process_group)
    return [
        part[tuple(slice(0, length) for length in shape)].to(tensor.device)
        for part, shape in zip(received, wanted, strict=True)
    ]


def _check_rank(rank: object, caller: str) -> int:
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
        raise ValueError(f"{caller}: rank must be a non-negative int, got {rank!r}.")
    return rank


def one_rank_only(rank: int = 0, *, with_barrier: bool = False) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Decorate a function so that only process ``rank`` runs it; the others get ``None``.

    With ``with_barrier=True`` every process waits after the call until ``rank`` has finished it.

    Example:
        >>> @one_rank_only()
        ... def save_report():
        ...     return "written"
        >>> save_report()
        'written'
    """
    _check_rank(rank, "one_rank_only")

    def decorator(function: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            world_size = get_world_size()
            if rank >= world_size:
                raise ValueError(f"one_rank_only(rank={rank}) but the world has {world_size} process(es).")
            result = function(*args, **kwargs) if get_rank() == rank else None
            if with_barrier:
                barrier()
            return result

        return wrapper

    return decorator


@contextmanager
def one_rank_first(rank: int = 0, local: bool = False) -> Iterator[None]:
    """Run the block on process ``rank`` first; the others enter it once ``rank`` has left it.

    Typical use: rank 0 downloads or prepares data, then the others read the prepared files. With
    ``local=True`` the rank is a local rank: on every machine that process goes first.

    Example:
        >>> with one_rank_first():
        ...     prepared = True
        >>> prepared
        True
    """
    _check_rank(rank, "one_rank_first")
    size = get_nproc_per_node() if local else get_world_size()
    if rank >= size:
        raise ValueError(
            f"rank should be between 0 and {size - 1}, but given {rank}: one_rank_first(rank={rank}, local={local}) "
            f"with {size} process(es)."
        )
    current = get_local_rank() if local else get_rank()
    if current != rank:
        barrier()
    yield
    if current == rank:
        barrier()
