"""Retry a batch that runs out of memory as smaller micro-batches whose gradients add up to the whole batch's.

:class:`MicroBatching` runs a step's forward and backward passes on a batch; when they raise
:class:`torch.OutOfMemoryError` it frees what the failed attempt held, halves the micro-batch size, and goes
on with the samples not yet done, each micro-batch's loss scaled by its share of the batch, so that the
summed gradient is the whole batch's (for a loss that is a mean over the samples). The size that fits is
remembered in ``engine.state.metrics`` (so loggers show it, and the trainer's checkpoint keeps it).
"""

from __future__ import annotations

import enum
import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cadence.engine.engine import Engine

__all__ = ["MicroBatches", "MicroBatching", "batch_size", "concatenate", "split_batch"]

_logger = logging.getLogger(__name__)


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch if batch.dim() > 0 else None
    values = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, list | tuple) else ()
    for value in values:
        found = _first_tensor(value)
        if found is not None:
            return found
    return None


def batch_size(batch: Any) -> int:
    """The number of samples in ``batch``: the first dimension of its first tensor (in tuples, lists, dicts).

    Example:
        >>> batch_size((torch.zeros(5, 3), torch.zeros(5)))
        5
    """
    tensor = _first_tensor(batch)
    if tensor is None:
        raise TypeError(
            f"Cannot tell the size of a {type(batch).__name__} batch: it holds no tensor with a batch dimension; "
            "give MicroBatching(size_of=fn(batch) -> int, split=fn(batch, size) -> list) for this layout."
        )
    return tensor.shape[0]


def _narrow(part: Any, start: int, length: int, total: int) -> Any:
    if isinstance(part, torch.Tensor):
        if part.dim() == 0:
            return part  # one value for the whole batch
        if part.shape[0] != total:
            raise ValueError(
                f"Cannot split the batch: a tensor of shape {tuple(part.shape)} does not have the batch's {total} "
                "samples in its first dimension; give MicroBatching(split=fn(batch, size) -> list) for this layout."
            )
        return part.narrow(0, start, length)
    if isinstance(part, Mapping):
        return {key: _narrow(value, start, length, total) for key, value in part.items()}
    if isinstance(part, tuple) and hasattr(part, "_fields"):  # a named tuple
        return type(part)(*(_narrow(value, start, length, total) for value in part))
    if isinstance(part, list | tuple):
        return type(part)(_narrow(value, start, length, total) for value in part)
    return part


def split_batch(batch: Any, size: int) -> list[Any]:
    """Cut ``batch`` into micro-batches of at most ``size`` samples along the first dimension of every tensor
    (in tuples, lists, named tuples and dicts; other values and 0-d tensors go to every micro-batch).

    Example:
        >>> parts = split_batch((torch.arange(5), torch.arange(5) * 10), 2)
        >>> [x.tolist() for x, _ in parts], parts[2][1].tolist()
        ([[0, 1], [2, 3], [4]], [40])
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}.")
    total = batch_size(batch)
    return [_narrow(batch, start, min(size, total - start), total) for start in range(0, total, size)]


def concatenate(parts: Sequence[Any]) -> Any:
    """Join per-micro-batch outputs into one: tensors (detached) along the first dimension, tuples, lists and
    dicts entry by entry; any other value is the first part's.

    Example:
        >>> concatenate([(torch.ones(2), "a"), (torch.zeros(1), "b")])
        (tensor([1., 1., 0.]), 'a')
    """
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, torch.Tensor):
        return torch.cat([part.detach() for part in parts]) if first.dim() > 0 else first.detach()
    if isinstance(first, Mapping):
        return {key: concatenate([part[key] for part in parts]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(concatenate(column) for column in zip(*parts, strict=True)))
    if isinstance(first, list | tuple):
        return type(first)(concatenate(column) for column in zip(*parts, strict=True))
    return first


@dataclass
class MicroBatches:
    """What :meth:`MicroBatching.accumulate` ran: each micro-batch's share of the batch, loss and output.

    Example:
        >>> done = MicroBatches(weights=[0.5, 0.5], losses=[torch.tensor(2.0), torch.tensor(4.0)],
        ...                     outputs=[torch.ones(1), torch.zeros(1)])
        >>> done.loss, done.output
        (tensor(3.), tensor([1., 0.]))
    """

    weights: list[float] = field(default_factory=list)
    losses: list[torch.Tensor] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)

    @property
    def loss(self) -> torch.Tensor:
        """The batch's loss: the only micro-batch's loss as it was, or the share-weighted sum (detached)."""
        if len(self.losses) == 1:
            return self.losses[0]
        return torch.stack(
            [loss.detach() * weight for loss, weight in zip(self.losses, self.weights, strict=True)]
        ).sum()

    @property
    def output(self) -> Any:
        """The micro-batches' outputs joined by :func:`concatenate`."""
        return concatenate(self.outputs)


class _Phase(enum.Enum):
    FORWARD = "forward"
    BACKWARD = "backward"


def _backward(loss: torch.Tensor) -> None:
    loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped


def _distributed() -> bool:
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


def _free_memory() -> None:
    gc.collect()  # what the failed attempt's frames still held (activations, half-built graphs)
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]  # untyped in torch
        torch.cuda.empty_cache()


class MicroBatching:
    """Run a batch's forward and backward passes, in micro-batches once the whole batch runs out of memory.

    Inside a process function, ``accumulate(engine, batch, forward)`` calls ``loss, output = forward(part)``
    and ``backward(loss * share)`` for the batch, or for each micro-batch of it, where ``share`` is the
    micro-batch's fraction of the samples (1 for the whole batch: then nothing is scaled, and the result is
    the one without micro-batching). On :class:`torch.OutOfMemoryError` it drops the failed attempt, halves the
    micro-batch size, and goes on: after a failed *forward* pass with the samples not yet done (the gradients
    hold only finished micro-batches); after a failed *backward* pass (some gradients are half added) it calls
    ``zero_grad()`` and starts the batch again, which is right only when the gradients were zeroed for this
    batch: pass ``zero_grad=None`` inside a gradient accumulation window, where such a failure re-raises. The
    size that fits is kept in ``engine.state.metrics[name]`` and used for the next batches; it is saved with
    the engine's ``state_dict()``, so a resumed run splits its batches as the stopped one did.

    Caveats: the summed gradient equals the whole batch's for a loss that is a *mean* over samples (for a sum,
    scale it yourself); BatchNorm computes its statistics per micro-batch, and random layers (dropout) draw
    other numbers, so such models train slightly differently once split. With a ``GradScaler``, scale inside
    ``backward`` (the scale is the same for every micro-batch of a step). A micro-batch of one sample that
    still runs out of memory re-raises the error with a message. In a distributed run a failure re-raises: one
    rank retrying alone would leave the others waiting in DDP's gradient all-reduce.

    Args:
        name: the entry of ``engine.state.metrics`` that holds the micro-batch size (absent: whole batches).
        split: ``fn(batch, size) -> list of micro-batches`` (default :func:`split_batch`).
        size_of: ``fn(batch) -> number of samples`` (default :func:`batch_size`).

    Example:
        >>> from cadence import Engine
        >>> model = torch.nn.Linear(3, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> micro = MicroBatching()
        >>> def forward(part):
        ...     x, y = part
        ...     if len(x) > 2:  # stands for a GPU that fits two samples
        ...         raise torch.OutOfMemoryError("CUDA out of memory")
        ...     y_pred = model(x)
        ...     return torch.nn.functional.mse_loss(y_pred, y), y_pred
        >>> def step(engine, batch):
        ...     optimizer.zero_grad()
        ...     done = micro.accumulate(engine, batch, forward, zero_grad=optimizer.zero_grad)
        ...     optimizer.step()
        ...     return done.loss.item()
        >>> trainer = Engine(step)
        >>> _ = trainer.run([(torch.randn(8, 3), torch.randn(8, 1))] * 2)
        >>> trainer.state.metrics["micro_batch_size"]
        2
    """

    def __init__(
        self,
        *,
        name: str = "micro_batch_size",
        split: Callable[[Any, int], Sequence[Any]] = split_batch,
        size_of: Callable[[Any], int] = batch_size,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}.")
        for label, function in (("split", split), ("size_of", size_of)):
            if not callable(function):
                raise TypeError(f"{label} must be callable, got {function!r}.")
        self.name = name
        self.split = split
        self.size_of = size_of

    def size(self, engine: Engine[Any]) -> int | None:
        """The micro-batch size that fits so far in ``engine``'s run; ``None``: whole batches."""
        size = engine.state.metrics.get(self.name)
        return size if isinstance(size, int) else None

    def accumulate(
        self,
        engine: Engine[Any],
        batch: Any,
        forward: Callable[[Any], tuple[torch.Tensor, Any]],
        *,
        backward: Callable[[torch.Tensor], None] = _backward,
        zero_grad: Callable[[], None] | None = None,
    ) -> MicroBatches:
        """Run ``forward`` and ``backward`` over ``batch`` (or its micro-batches) and return what they gave.

        Args:
            engine: the engine whose process function this runs in (its ``state.metrics`` holds the size).
            batch: the batch, as ``forward`` takes it (and ``split`` cuts it).
            forward: ``fn(part) -> (loss, output)``: the forward pass and the loss (a mean over ``part``).
            backward: ``fn(scaled_loss)``: the backward pass (default ``loss.backward()``).
            zero_grad: zeroes the gradients, to retry after a failed backward pass; ``None`` inside a gradient
                accumulation window, where the gradients of earlier iterations must not be lost.
        """
        total = self.size_of(batch)
        size = self.size(engine)
        pending = [batch] if size is None or size >= total else list(self.split(batch, size))
        done = MicroBatches()
        while pending:
            part = pending[0]
            share = 1.0 if part is batch else self.size_of(part) / total
            phase = self._attempt(engine, part, share, forward, backward, zero_grad, done)
            if phase is None:
                pending.pop(0)
                continue
            _free_memory()
            smaller = max(1, self.size_of(part) // 2)
            engine.state.metrics[self.name] = smaller
            _logger.warning(
                "Out of memory in the %s pass of a micro-batch of %d samples at iteration %d; retrying with "
                "micro-batches of %d.", phase.value, self.size_of(part), engine.state.iteration, smaller,
            )  # fmt: skip
            if phase is _Phase.BACKWARD:
                assert zero_grad is not None
                zero_grad()
                done = MicroBatches()
                pending = [batch]
            pending = [piece for rest in pending for piece in self._cut(rest, smaller)]
        return done

    def _cut(self, part: Any, size: int) -> list[Any]:
        return list(self.split(part, size)) if self.size_of(part) > size else [part]

    def _attempt(
        self,
        engine: Engine[Any],
        part: Any,
        share: float,
        forward: Callable[[Any], tuple[torch.Tensor, Any]],
        backward: Callable[[torch.Tensor], None],
        zero_grad: Callable[[], None] | None,
        done: MicroBatches,
    ) -> _Phase | None:
        """Run one micro-batch; return the phase that ran out of memory (``None``: it went through)."""
        phase = _Phase.FORWARD
        try:
            loss, output = forward(part)
            phase = _Phase.BACKWARD
            backward(loss if share == 1.0 else loss * share)
        except torch.OutOfMemoryError as error:
            problem = self._unrecoverable(phase, self.size_of(part), zero_grad)
            if problem:
                raise torch.OutOfMemoryError(
                    f"{problem} (iteration {engine.state.iteration}, {phase.value} pass). The original error: {error}"
                ) from error
            return phase  # leaving this block drops the error and, with it, the failed attempt's tensors
        done.weights.append(share)
        done.losses.append(loss)
        done.outputs.append(output)
        return None

    @staticmethod
    def _unrecoverable(phase: _Phase, samples: int, zero_grad: Callable[[], None] | None) -> str:
        if _distributed():
            return (
                "Out of memory in a distributed run: MicroBatching retries only in one process (one rank retrying "
                "alone would leave the others waiting in the gradient all-reduce); set a batch size that fits"
            )
        if samples <= 1:
            return (
                "Out of memory with a micro-batch of one sample: the batch cannot be split further; the model, its "
                "optimizer state and one sample's activations do not fit (free memory, shard the model with FSDP, "
                "or use activation checkpointing)"
            )
        if phase is _Phase.BACKWARD and zero_grad is None:
            return (
                "Out of memory in the backward pass inside a gradient accumulation window: part of this batch's "
                "gradients were already added to those of earlier iterations, so the batch cannot be retried; "
                "start with a smaller batch, or retry only at the window's first iteration (zero_grad=...)"
            )
        return ""
