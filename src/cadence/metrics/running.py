"""Metrics of the engine's output: :class:`Loss`, :class:`RunningAverage`, :class:`Frequency` (and :class:`Average`,
from :mod:`cadence.metrics.accumulation`)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from cadence.distributed import ReduceOp, all_reduce, get_world_size
from cadence.engine import CallableEventWithFilter, Engine, Events
from cadence.metrics.accumulation import Average
from cadence.metrics.accumulation import check_number_or_tensor as _check_number_or_tensor
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.usage import (
    MetricUsage,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
    to_usage,
)

__all__ = ["Average", "Frequency", "Loss", "RunningAverage"]


class Loss(Metric):
    """The mean of ``loss_fn(y_pred, y)`` over samples, each batch weighted by its size.

    Args:
        loss_fn: returns the mean loss of a batch, a 0-d tensor (e.g. ``torch.nn.CrossEntropyLoss()``).
            It may take keyword arguments, given as a third output item ``criterion_kwargs``.
        batch_size: gives a batch's size from ``y`` (default ``len``).

    Example:
        >>> loss = Loss(torch.nn.functional.l1_loss)
        >>> loss.update((torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0])))
        >>> loss.update((torch.tensor([0.0]), torch.tensor([4.0])))
        >>> loss.compute()
        2.0
    """

    required_output_keys = ("y_pred", "y", "criterion_kwargs")
    _optional_output_keys = frozenset({"criterion_kwargs"})
    _state_names = ("_sum", "_num_examples")

    def __init__(
        self,
        loss_fn: Callable[..., torch.Tensor],
        output_transform: Callable[[Any], Any] = identity,
        batch_size: Callable[[Any], int] = len,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable as loss_fn(y_pred, y), got {loss_fn!r}.")
        if not callable(batch_size):
            raise TypeError(f"batch_size must be callable as batch_size(y), got {batch_size!r}.")
        self._loss_fn = loss_fn
        self._batch_size = batch_size
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget all losses seen."""
        self._sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add the loss of one batch ``(y_pred, y)`` or ``(y_pred, y, criterion_kwargs)``."""
        if not isinstance(output, tuple | list) or len(output) not in (2, 3):
            raise TypeError(
                f"Loss.update takes (y_pred, y) or (y_pred, y, criterion_kwargs), got {type(output).__name__}."
            )
        size = self._batch_size(output[1])
        if size == 0:
            return  # an empty batch adds nothing (and its mean loss would be nan)
        kwargs: Mapping[str, Any] = output[2] if len(output) == 3 else {}
        loss = self._loss_fn(output[0], output[1], **kwargs)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(
                f"loss_fn did not return the average loss: it must return the batch's mean loss as a 0-d tensor, "
                f"got {shape}; use reduction='mean' or average it yourself."
            )
        self._sum.add_(loss.detach().to(self._device), alpha=size)
        self._num_examples += size

    def compute(self) -> float:
        """The mean loss per sample."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("Loss must have at least one example before it can be computed.")
        return reduced(self._sum).item() / num_examples


class RunningAverage(Metric):
    """An exponential moving average, ``value = alpha * value + (1 - alpha) * new``, of the engine's
    output (``src=None``, with an ``output_transform``) or of a metric computed on each batch.

    Attached with :class:`RunningBatchWise` usage by default (published after every iteration);
    :class:`SingleEpochRunningBatchWise` and :class:`RunningEpochWise` are accepted too.

    Args:
        src: a metric, computed and reset at every iteration; or ``None`` to average the output.
        alpha: the weight of the running value, in ``(0, 1]``.
        output_transform: gives a number or tensor from the engine's output (only with ``src=None``).
        epoch_bound: deprecated (as in Ignite); use ``usage`` in :meth:`attach`.

    Example:
        >>> from cadence import Engine
        >>> engine = Engine(lambda engine, batch: {"loss": batch})
        >>> RunningAverage(alpha=0.5, output_transform=lambda out: out["loss"]).attach(engine, "loss")
        >>> engine.run([4.0, 2.0, 1.0]).metrics["loss"]
        2.0
    """

    required_output_keys = None
    _state_names = ("_value",)
    _lazy_state_names = frozenset({"_value"})

    def __init__(
        self,
        src: Metric | None = None,
        alpha: float = 0.98,
        output_transform: Callable[[Any], Any] | None = None,
        epoch_bound: bool | None = None,
        device: str | torch.device | None = None,
        skip_unrolling: bool = False,
    ) -> None:
        if src is not None and not isinstance(src, Metric):
            raise TypeError(
                f"Argument src should be a Metric or None (to average the output), got {type(src).__name__}."
            )
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 < alpha <= 1.0:
            raise ValueError(f"Argument alpha should be a float between 0 (excluded) and 1, got {alpha!r}.")
        if src is None and output_transform is None:
            raise ValueError(
                "Argument output_transform should not be None if src corresponds to the output of process function: "
                "give one that returns a number (e.g. output_transform=lambda out: out['loss']), or pass a metric "
                "as src."
            )
        if src is not None and output_transform is not None:
            raise ValueError(
                "Argument output_transform should be None if src is a Metric: give the transform to the metric."
            )
        if src is not None and device is not None:
            raise ValueError("Argument device should be None if src is a Metric: the metric's device is used.")
        if epoch_bound is not None:
            warnings.warn(
                "`epoch_bound` is deprecated and will be removed in the future: use attach(..., "
                "usage=SingleEpochRunningBatchWise()) or usage=RunningBatchWise().",
                UserWarning,
                stacklevel=2,
            )
        self.src = src
        self.alpha = float(alpha)
        self.epoch_bound = epoch_bound
        if device is None:
            device = src._device if src is not None else "cpu"
        super().__init__(output_transform or identity, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "src": None if self.src is None else type(self.src).__name__}

    def reset(self) -> None:
        """Forget the running value (and reset ``src``)."""
        self._value: torch.Tensor | float | None = None
        if self.src is not None:
            self.src.reset()

    def iteration_completed(self, engine: Engine[Any]) -> None:
        """Update from the engine's output, or from ``src`` (which the engine has just updated)."""
        if self.src is None:
            super().iteration_completed(engine)
        else:
            self.update(None)

    def update(self, output: Any) -> None:
        """Fold in one new value: ``output`` itself, or ``src``'s value (then ``src`` is reset)."""
        if self.src is None:
            _check_number_or_tensor(output, "RunningAverage")
            value: torch.Tensor | float = (
                output.detach().to(self._device, copy=True) if isinstance(output, torch.Tensor) else output
            )
            world_size = get_world_size()
            if world_size > 1:
                value = all_reduce(value, ReduceOp.SUM) / world_size
        else:
            value = self.src.compute()
            self.src.reset()
        self._value = value if self._value is None else self._value * self.alpha + (1.0 - self.alpha) * value

    def compute(self) -> torch.Tensor | float:
        """The running value."""
        if self._value is None:
            raise NotComputableError("RunningAverage must have at least one update before it can be computed.")
        return self._value

    def attach(self, engine: Engine[Any], name: str, usage: MetricUsage | str = "running_batch_wise") -> None:
        """Publish the running value as ``engine.state.metrics[name]`` (after every iteration by default)."""
        usage = to_usage(usage)
        if self.epoch_bound is not None:
            usage = SingleEpochRunningBatchWise() if self.epoch_bound else RunningBatchWise()
        if not isinstance(usage, RunningBatchWise | SingleEpochRunningBatchWise | RunningEpochWise):
            raise ValueError(
                f"RunningAverage can be attached with RunningBatchWise, SingleEpochRunningBatchWise or "
                f"RunningEpochWise usage, got {usage!r}."
            )
        if self.src is not None and not engine.has_event_handler(
            self.src.iteration_completed, Events.ITERATION_COMPLETED
        ):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self.src.iteration_completed)
        super().attach(engine, name, usage)

    def detach(self, engine: Engine[Any], usage: MetricUsage | str = "running_batch_wise") -> None:
        """Remove this metric's handlers (and ``src``'s update handler)."""
        super().detach(engine, usage)
        if self.src is not None and engine.has_event_handler(self.src.iteration_completed, Events.ITERATION_COMPLETED):
            engine.remove_event_handler(self.src.iteration_completed, Events.ITERATION_COMPLETED)

    def is_attached(self, engine: Engine[Any], usage: MetricUsage | str = "running_batch_wise") -> bool:
        """Whether this metric publishes on ``engine`` with ``usage``."""
        return super().is_attached(engine, usage)

    def state_dict(self) -> dict[str, Any]:
        """The running value, and ``src``'s state."""
        state = super().state_dict()
        state["state"]["src"] = None if self.src is None else self.src.state_dict()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the running value and ``src``'s state."""
        if not isinstance(state_dict, Mapping) or not isinstance(state_dict.get("state"), Mapping):
            raise ValueError(f"RunningAverage.load_state_dict needs a state_dict() mapping, got {state_dict!r:.200}.")
        inner = dict(state_dict["state"])
        src_state = inner.pop("src", None)
        super().load_state_dict({**state_dict, "state": inner})
        if self.src is not None:
            self.src.load_state_dict(src_state)


class Frequency(Metric):
    """Items per second, e.g. tokens/s: the sum of the (transformed) output over the time since reset.

    Attached by default to publish after every iteration and reset at every epoch start. Across
    processes, the items of all processes are summed over the longest elapsed time.

    Example:
        >>> from cadence import Engine
        >>> engine = Engine(lambda engine, batch: batch)
        >>> Frequency(output_transform=lambda out: out["tokens"]).attach(engine, "tokens/s")
        >>> engine.run([{"tokens": 128}] * 3).metrics["tokens/s"] > 0
        True
    """

    required_output_keys = None
    _state_names = ("_count", "_elapsed")
    _lazy_state_names = frozenset({"_count"})

    def reset(self) -> None:
        """Start counting from zero, now."""
        self._count: float | torch.Tensor = 0
        self._elapsed = 0.0
        self._start = time.perf_counter()

    def update(self, output: Any) -> None:
        """Add the number of items processed by one iteration (a tensor is added without a host sync)."""
        _check_number_or_tensor(output, "Frequency")
        self._count = self._count + (output.detach() if isinstance(output, torch.Tensor) else output)
        self._elapsed = time.perf_counter() - self._start

    def compute(self) -> float:
        """Items per second since the reset."""
        count = self._count.item() if isinstance(self._count, torch.Tensor) else self._count
        total, elapsed = reduced(float(count)), reduced(self._elapsed, ReduceOp.MAX)
        if elapsed <= 0.0:
            raise NotComputableError("Frequency must have at least one update before it can be computed.")
        return total / elapsed

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the count and elapsed time; the clock continues from the restored time."""
        super().load_state_dict(state_dict)
        self._start = time.perf_counter() - self._elapsed

    @staticmethod
    def _usage(usage: MetricUsage | CallableEventWithFilter | str, event_name: CallableEventWithFilter | None) -> Any:
        event = event_name if event_name is not None else usage
        if isinstance(event, CallableEventWithFilter):
            return MetricUsage(Events.EPOCH_STARTED, event, Events.ITERATION_COMPLETED)
        return event

    def attach(
        self,
        engine: Engine[Any],
        name: str,
        usage: MetricUsage | CallableEventWithFilter | str = Events.ITERATION_COMPLETED,
        *,
        event_name: CallableEventWithFilter | None = None,
    ) -> None:
        """Publish as ``engine.state.metrics[name]`` at an event (``event_name``, as in Ignite) or with a usage."""
        super().attach(engine, name, self._usage(usage, event_name))

    def detach(
        self,
        engine: Engine[Any],
        usage: MetricUsage | CallableEventWithFilter | str = Events.ITERATION_COMPLETED,
        *,
        event_name: CallableEventWithFilter | None = None,
    ) -> None:
        """Remove the handlers that :meth:`attach` added with the same event or usage."""
        super().detach(engine, self._usage(usage, event_name))

    def is_attached(
        self,
        engine: Engine[Any],
        usage: MetricUsage | CallableEventWithFilter | str = Events.ITERATION_COMPLETED,
        *,
        event_name: CallableEventWithFilter | None = None,
    ) -> bool:
        """Whether this metric publishes on ``engine`` at that event or with that usage."""
        return super().is_attached(engine, self._usage(usage, event_name))
