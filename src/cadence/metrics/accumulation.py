"""Accumulations of the (transformed) engine output: :class:`VariableAccumulation`, :class:`Average`,
:class:`GeometricAverage`."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

import torch

from cadence.distributed import all_gather, get_world_size
from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["Average", "GeometricAverage", "VariableAccumulation"]

Accumulator = Callable[[torch.Tensor, Any], torch.Tensor]


def check_number_or_tensor(value: Any, kind: str) -> None:
    """Refuse an output that is neither a number nor a tensor, naming ``kind`` (the metric)."""
    if isinstance(value, bool) or not isinstance(value, Number | torch.Tensor):
        raise TypeError(
            f"Output should be a number or torch.Tensor, but given {type(value).__name__} ({value!r:.100}): "
            f"{kind}.update takes one value or one batch of values."
        )


def summed_over_processes(tensor: torch.Tensor, kind: str) -> torch.Tensor:
    """``tensor`` summed over all processes (``tensor`` itself is left as it is), where a process that saw no
    data, or only numbers, may hold a 0-d zero while the others hold vectors: all_reduce needs one shape,
    so each process's tensor is first broadcast to the shape they agree on. ``kind`` names the metric in errors.

    Example:
        >>> summed_over_processes(torch.tensor([1.0, 2.0]), "Average")
        tensor([1., 2.])
    """
    if get_world_size() == 1:
        return tensor
    shapes = all_gather(tuple(tensor.shape))
    try:
        shape = torch.broadcast_shapes(*shapes)  # type: ignore[no-untyped-call]  # unannotated in torch
    except RuntimeError as error:
        raise ValueError(
            f"{kind} got values of shapes {shapes} on the different processes; every process must accumulate "
            "values of the same shape (or plain numbers)."
        ) from error
    return reduced(tensor.expand(shape))


class VariableAccumulation(Metric):
    """Folds every (transformed) output into an accumulator with ``op(accumulator, output)``, and counts
    the examples: 1 per number or 0-d/1-d tensor, ``len`` of a batch of 2 or more dimensions.

    ``compute()`` gives ``(accumulator, num_examples)``, each summed over all processes (``op`` must be a
    sum, such as ``a + x`` or ``a + x.sum(dim=0)``, for the value to mean the same over several processes).

    Args:
        op: ``op(accumulator, output) -> accumulator``; the accumulator starts as a float64 zero on ``device``,
            and a tensor output is moved to its device and dtype first.
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> total = VariableAccumulation(lambda acc, x: acc + x.sum(dim=0))
        >>> total.update(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> total.compute()
        (tensor([4., 6.], dtype=torch.float64), 2)
    """

    required_output_keys = None
    _state_names = ("accumulator", "num_examples")
    _lazy_state_names = frozenset({"accumulator"})

    def __init__(
        self,
        op: Accumulator,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not callable(op):
            raise TypeError(
                f"Argument op should be a callable op(accumulator, output) -> accumulator, but given {op!r:.100}."
            )
        self._op = op
        super().__init__(output_transform, device, skip_unrolling)

    def reset(self) -> None:
        """Start over from a zero accumulator and no examples."""
        self.accumulator = torch.tensor(0.0, dtype=torch.float64, device=self._device)
        self.num_examples = 0

    def update(self, output: Any) -> None:
        """Fold in one value, or one batch of values."""
        check_number_or_tensor(output, type(self).__name__)
        if isinstance(output, torch.Tensor):
            output = output.detach().to(self.accumulator)
            self.num_examples += output.shape[0] if output.dim() > 1 else 1
        else:
            self.num_examples += 1
        self.accumulator = self._op(self.accumulator, output)

    def compute(self) -> Any:
        """``(accumulator, num_examples)`` summed over all processes."""
        return self._total(), reduced(self.num_examples)

    def _total(self) -> torch.Tensor:
        return summed_over_processes(self.accumulator, type(self).__name__)

    def _counted(self) -> tuple[torch.Tensor, int]:
        total, num_examples = self._total(), reduced(self.num_examples)
        if num_examples == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        return total, num_examples


def _add_rows(accumulator: torch.Tensor, value: torch.Tensor | float) -> torch.Tensor:
    if isinstance(value, torch.Tensor) and value.dim() > 1:
        value = value.sum(dim=0)
    return accumulator + value


def _add_log_rows(accumulator: torch.Tensor, value: Any) -> torch.Tensor:
    logs = torch.log(value if isinstance(value, torch.Tensor) else torch.tensor(float(value), dtype=torch.float64))
    return _add_rows(accumulator, logs.to(accumulator.device))


class Average(VariableAccumulation):
    """The mean of the (transformed) output: of numbers, of 0-d or 1-d tensors, or of the rows of a
    ``(batch_size, ...)`` tensor (each row counts as one example).

    Args:
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> average = Average()
        >>> average.update(1.0)
        >>> average.update(torch.tensor([[2.0], [6.0]]))
        >>> average.compute()
        tensor([3.], dtype=torch.float64)
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(_add_rows, output_transform, device, skip_unrolling)

    def compute(self) -> torch.Tensor:
        """The mean of the values seen (a float64 tensor)."""
        total, num_examples = self._counted()
        return total / num_examples


class GeometricAverage(VariableAccumulation):
    """The geometric mean, ``exp(mean(log(x)))``, of the (transformed) output: of positive numbers, of 0-d or
    1-d tensors, or of the rows of a ``(batch_size, ...)`` tensor.

    A single value is returned as a Python float, several as a tensor. A negative or NaN value makes the
    mean undefined: ``compute()`` then raises ``ValueError``.

    Args:
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> mean = GeometricAverage()
        >>> mean.update(torch.tensor([1.0, 4.0]))
        >>> mean.update(torch.tensor([4.0, 1.0]))
        >>> mean.compute()
        tensor([2., 2.], dtype=torch.float64)
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(_add_log_rows, output_transform, device, skip_unrolling)

    def compute(self) -> float | torch.Tensor:
        """The geometric mean of the values seen."""
        total, num_examples = self._counted()
        if torch.isnan(total).any():
            raise ValueError(
                "GeometricAverage got a negative or NaN value, whose logarithm is undefined; it averages positive "
                "values only (transform the output, e.g. with abs(), if that is what you mean)."
            )
        mean = torch.exp(total / num_examples)
        return mean.item() if mean.numel() == 1 else mean
