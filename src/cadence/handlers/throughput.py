"""Samples, items (tokens, pixels) and FLOPs per second of a run, and its model FLOPs utilisation (MFU), per
window of steps: :class:`Throughput`.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from cadence.distributed import ReduceOp, all_reduce, device, get_world_size
from cadence.engine import Engine, Events
from cadence.engine.events import RemovableEventHandle
from cadence.handlers.flops import Precision, peak_flops

__all__ = ["Throughput"]

_PREFIX = "throughput/"


def _first_tensor(batch: Any) -> torch.Tensor | None:
    """The first tensor of ``batch``, depth first through sequences and mappings."""
    if isinstance(batch, torch.Tensor):
        return batch
    values: Sequence[Any] | None = None
    if isinstance(batch, Mapping):
        values = list(batch.values())
    elif isinstance(batch, list | tuple):
        values = batch
    for value in values or ():
        found = _first_tensor(value)
        if found is not None:
            return found
    return None


def _samples_in(batch: Any) -> int:
    first = batch[0] if batch.__class__ in (tuple, list) and batch else batch  # (x, y): no search needed
    if first.__class__ is not torch.Tensor:  # a mapping, a nested sequence, a tensor subclass: searched
        first = _first_tensor(batch)
    shape: torch.Size | None = None if first is None else first.shape
    if not shape:
        what = "no tensor" if shape is None else "a 0-dim tensor first"
        raise TypeError(
            f"Throughput counts a batch's samples as its first tensor's dim 0, but the batch ({type(batch).__name__}) "
            f"holds {what}; pass batch_size= (a number, or a function of the batch)."
        )
    return shape[0]


def _not_one_number(items: int | torch.Tensor) -> bool:
    return isinstance(items, torch.Tensor) and items.numel() != 1


class Throughput:
    """Publish how fast a run goes in ``engine.state.metrics`` every ``every`` iterations, so that every logger
    and progress bar can show it: samples per second, items per second (``items``: tokens, pixels...), FLOPs per
    second (``flops_per_step``) and the model FLOPs utilisation (MFU: the FLOP/s as a fraction of the device's
    peak, for a GPU of :data:`~cadence.handlers.flops.PEAK_FLOPS` or with ``peak_flops``).

    Names (``<items>`` is ``item_name``), each for the whole job (the sum over ranks; MFU: the job's FLOP/s over
    the sum of the ranks' peaks) and, with ``rank_``, for this process:
    ``throughput/samples_per_s``, ``throughput/<items>_per_s``, ``throughput/flops_per_s``, ``throughput/mfu``
    (and ``throughput/rank_samples_per_s``...), plus ``throughput/step_time_s``, this process's seconds per
    iteration. Until the first window of a run ends they are NaN, so that a logger or a progress bar may name
    them from the start. ``flops_per_s`` and ``mfu`` are there only with ``flops_per_step`` (and a peak).

    A window's time is everything from its start to its end, measured with ``time.perf_counter`` at those two
    moments only; a window starts again with each epoch, so a validation run at an epoch's end is not counted.
    On a CUDA device the window's ends wait for the GPU (``torch.cuda.synchronize``) so that its queued work
    counts in the window it belongs to: no other synchronisation, and per iteration at most the count of the
    batch's samples (no call at all with a fixed ``batch_size`` and no ``items``). One small ``all_reduce`` per
    window adds the ranks' numbers. Attach it before the loggers that log its metrics at the same event.

    Args:
        every: iterations per window (the metrics are published at the iterations that are multiples of it).
        batch_size: samples per batch: a number, or a function of the batch (default: the first tensor's dim 0).
        items: a function of the batch giving its items (tokens, pixels) as an int or a tensor; a tensor (even on
            the GPU) is added up where it is and read once per window.
        item_name: what the items are, for the metric's name (``"tokens"``: ``throughput/tokens_per_s``).
        flops_per_step: FLOPs of one iteration of this process (see :func:`~cadence.handlers.flops.count_flops`).
        precision: the step's number format, which decides the GPU's peak.
        peak_flops: this process's device's peak FLOP/s, instead of the table's (on a CPU, it enables the MFU).
        device: where the step computes (default: :func:`cadence.distributed.device`).

    Example:
        >>> trainer = Engine(lambda engine, batch: None)
        >>> Throughput(every=4, items=lambda batch: batch.numel(), item_name="pixels").attach(trainer)
        >>> state = trainer.run([torch.zeros(8, 3, 2, 2)] * 8)
        >>> state.metrics["throughput/samples_per_s"] > 0, state.metrics["throughput/pixels_per_s"] > 0
        (True, True)
        >>> round(state.metrics["throughput/pixels_per_s"] / state.metrics["throughput/samples_per_s"])
        12
    """

    def __init__(
        self,
        every: int = 50,
        *,
        batch_size: int | Callable[[Any], int] | None = None,
        items: Callable[[Any], int | torch.Tensor] | None = None,
        item_name: str = "items",
        flops_per_step: float | None = None,
        precision: Precision = Precision.BF16,
        peak_flops: float | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every should be a positive number of iterations, got {every!r}.")
        fixed = batch_size is not None and not callable(batch_size)
        if fixed and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size should be a positive int or a function of the batch, got {batch_size!r}.")
        if items is not None and not callable(items):
            raise TypeError(f"items should be a function of the batch (its tokens, pixels...), got {items!r}.")
        if not isinstance(item_name, str) or not item_name.isidentifier():
            raise ValueError(f"item_name should be a word such as 'tokens' (it names a metric), got {item_name!r}.")
        for name, value in {"flops_per_step": flops_per_step, "peak_flops": peak_flops}.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0):
                raise ValueError(f"{name} should be a positive number of FLOPs, got {value!r}.")
        if not isinstance(precision, Precision):
            raise TypeError(f"precision should be a Precision (e.g. Precision.BF16), got {precision!r}.")
        self.every = every
        self._fixed_batch = batch_size if isinstance(batch_size, int) else None
        self._batch_size: Callable[[Any], int] = batch_size if callable(batch_size) else _samples_in
        self._items = items
        self._item_name = item_name
        self._flops = None if flops_per_step is None else float(flops_per_step)
        self._precision = precision
        self._peak_override = None if peak_flops is None else float(peak_flops)
        self._device = None if device is None else torch.device(device)
        self._peak: float | None = None
        self._cuda: torch.device | None = None
        self._handles: list[RemovableEventHandle] = []
        self._restart_window(0)

    def names(self) -> list[str]:
        """The metric names this handler publishes on this process (the MFU's only with a known peak).

        Example:
            >>> Throughput(batch_size=32).names()
            ['throughput/samples_per_s', 'throughput/rank_samples_per_s', 'throughput/step_time_s']
        """
        rates = ["samples"] + ([self._item_name] if self._items is not None else [])
        rates += ["flops"] if self._flops is not None else []
        names = [f"{_PREFIX}{scope}{rate}_per_s" for rate in rates for scope in ("", "rank_")]
        if self._flops is not None and self._peak is not None:
            names += [f"{_PREFIX}mfu", f"{_PREFIX}rank_mfu"]
        return [*names, f"{_PREFIX}step_time_s"]

    def attach(self, engine: Engine[Any]) -> None:
        """Measure ``engine``'s runs."""
        if not isinstance(engine, Engine):
            raise TypeError(f"Throughput.attach needs an Engine, got {type(engine).__name__}.")
        if self._handles:
            raise RuntimeError("This Throughput is attached already; make one per engine.")
        self._handles = [
            engine.add_event_handler(Events.STARTED, self._start),
            engine.add_event_handler(Events.EPOCH_STARTED, self._restart),
        ]
        if self._fixed_batch is None or self._items is not None:
            self._handles.append(engine.add_event_handler(Events.ITERATION_COMPLETED, self._count))
        self._handles.append(engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.every), self._publish))

    def detach(self) -> None:
        """Stop measuring: remove the event handlers.

        Example:
            >>> engine = Engine(lambda engine, batch: None)
            >>> throughput = Throughput(batch_size=1)
            >>> throughput.attach(engine)
            >>> throughput.detach()
            >>> "throughput/samples_per_s" in engine.run([0]).metrics
            False
        """
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _start(self, engine: Engine[Any]) -> None:
        where = self._device if self._device is not None else device()
        self._cuda = where if where.type == "cuda" else None
        self._peak = self._peak_override or peak_flops(where, self._precision)
        for name in self.names():  # named from the start (NaN: not measured yet); a continued run keeps its values
            engine.state.metrics.setdefault(name, math.nan)
        self._restart(engine)

    def _restart(self, engine: Engine[Any]) -> None:
        if self._cuda is not None:
            torch.cuda.synchronize(self._cuda)
        self._restart_window(engine.state.iteration)

    def _restart_window(self, iteration: int) -> None:
        self._first_iteration = iteration
        self._samples = 0
        self._item_count: int | torch.Tensor = 0
        self._started_at = time.perf_counter()

    def _count(self, engine: Engine[Any]) -> None:
        batch = engine.state.batch
        if self._fixed_batch is None:
            samples = self._batch_size(batch)
            if samples.__class__ is not int:  # not a bool either
                raise TypeError(f"Throughput: batch_size returned {samples!r} for a batch; it should return an int.")
            self._samples += samples
        if self._items is not None:
            items = self._items(batch)
            if isinstance(items, bool) or not isinstance(items, int | torch.Tensor) or _not_one_number(items):
                raise TypeError(f"Throughput: items returned {items!r}; it should return an int or a tensor.")
            self._item_count = self._item_count + items  # a tensor stays where it is: no sync per iteration

    def _publish(self, engine: Engine[Any]) -> None:
        if self._cuda is not None:
            torch.cuda.synchronize(self._cuda)
        seconds = max(time.perf_counter() - self._started_at, 1e-9)
        iterations = engine.state.iteration - self._first_iteration
        samples = self._samples if self._fixed_batch is None else self._fixed_batch * iterations
        flops = (self._flops or 0.0) * iterations
        rank = [samples / seconds, float(self._item_count) / seconds, flops / seconds]
        rank += [self._peak or 0.0, float(self._peak is not None)]
        job = all_reduce(torch.tensor(rank, dtype=torch.float64), ReduceOp.SUM).tolist()  # one per window
        metrics = engine.state.metrics
        metrics[f"{_PREFIX}samples_per_s"], metrics[f"{_PREFIX}rank_samples_per_s"] = job[0], rank[0]
        if self._items is not None:
            metrics[f"{_PREFIX}{self._item_name}_per_s"] = job[1]
            metrics[f"{_PREFIX}rank_{self._item_name}_per_s"] = rank[1]
        if self._flops is not None:
            metrics[f"{_PREFIX}flops_per_s"], metrics[f"{_PREFIX}rank_flops_per_s"] = job[2], rank[2]
            if self._peak is not None:
                metrics[f"{_PREFIX}rank_mfu"] = rank[2] / self._peak
                every_rank_knows = round(job[4]) == get_world_size()
                metrics[f"{_PREFIX}mfu"] = job[2] / job[3] if every_rank_knows else math.nan
        metrics[f"{_PREFIX}step_time_s"] = seconds / max(iterations, 1)
        self._restart_window(engine.state.iteration)  # the GPU is idle: synchronised above
