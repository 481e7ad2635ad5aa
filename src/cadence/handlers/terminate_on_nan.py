"""Stop a run as soon as its output holds a NaN or an infinity."""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from cadence.distributed import ReduceOp, all_reduce
from cadence.engine import Engine

__all__ = ["TerminateOnNan"]


def _is_finite(value: Any) -> bool:
    """Whether every number and tensor in ``value`` (nested in sequences and mappings) is finite."""
    if isinstance(value, torch.Tensor):
        return (not value.is_floating_point() and not value.is_complex()) or bool(torch.isfinite(value).all())
    if isinstance(value, numbers.Number):
        return math.isfinite(value.real) and math.isfinite(value.imag)  # type: ignore[attr-defined]  # every Number has real/imag
    if isinstance(value, Mapping):
        return all(_is_finite(v) for v in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return all(_is_finite(v) for v in value)
    return True


class TerminateOnNan:
    """Terminate the engine when ``output_transform(engine.state.output)`` has a NaN or infinite value.

    Numbers and tensors are checked, also inside lists, tuples and dicts; anything else is ignored.
    Attach it to ``ITERATION_COMPLETED``. In a distributed run every rank stops when any rank sees a
    non-finite value (one ``all_reduce`` of a flag per call), so none is left waiting in a collective.

    Example:
        >>> from cadence import Events
        >>> engine = Engine(lambda engine, batch: batch * 2)
        >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
        >>> engine.run([4.0, 2.0, float("inf"), 1.0]).iteration
        3
    """

    def __init__(self, output_transform: Callable[[Any], Any] = lambda output: output) -> None:
        if not callable(output_transform):
            raise TypeError(f"output_transform must be callable, got {output_transform!r}.")
        self.output_transform = output_transform
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine[Any]) -> None:
        """Check the engine's output now."""
        output = self.output_transform(engine.state.output)
        if all_reduce(int(not _is_finite(output)), ReduceOp.MAX):
            self.logger.warning(
                "TerminateOnNan: output %r at iteration %d has NaN or infinite values; stopping the run.",
                output,
                engine.state.iteration,
            )
            engine.terminate()
