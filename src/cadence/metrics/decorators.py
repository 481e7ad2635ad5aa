"""Ignite's metric decorators, so a metric written for Ignite runs unchanged: :func:`reinit__is_reduced`
on ``reset``/``update`` and :func:`sync_all_reduce` on ``compute``.

cadence's own metrics reduce in ``compute()`` with :func:`cadence.metrics.metric.reduced`; these
decorators give the same guarantee to a metric that names its accumulators instead: during the decorated
call each named attribute holds its value combined over all processes, and afterwards its own value again,
so a second ``compute()`` gives the same result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from numbers import Number
from typing import Any, ParamSpec, TypeVar

import torch

from cadence.distributed import ReduceOp, all_reduce, get_world_size
from cadence.metrics._base import MetricBase

__all__ = ["reinit__is_reduced", "sync_all_reduce"]

P = ParamSpec("P")
R = TypeVar("R")

# The reductions a ``"name:OP"`` spec may ask for, spelled as Ignite spells them.
_OPS = {op.value: op for op in (ReduceOp.SUM, ReduceOp.MIN, ReduceOp.MAX, ReduceOp.PRODUCT)}


def reinit__is_reduced(func: Callable[P, R]) -> Callable[P, R]:
    """Mark ``reset``/``update`` as changing the accumulators (Ignite's decorator; kept for metrics written for it).

    cadence never caches a reduced value between calls (:func:`sync_all_reduce` restores the attributes after
    each call), so the decorated method runs as it is; the decorator exists so Ignite code imports and runs.

    Example:
        >>> from cadence.metrics.metric import Metric
        >>> class Count(Metric):
        ...     @reinit__is_reduced
        ...     def reset(self):
        ...         self.count = 0
        ...     @reinit__is_reduced
        ...     def update(self, output):
        ...         self.count += len(output)
        ...     def compute(self):
        ...         return self.count
        >>> count = Count()
        >>> count.update([1, 2, 3])
        >>> count.compute()
        3
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return func(*args, **kwargs)

    return wrapper


def _parse_spec(spec: str) -> tuple[str, ReduceOp]:
    if not isinstance(spec, str):
        raise TypeError(f"sync_all_reduce takes attribute names (optionally 'name:OP'), got {spec!r}.")
    name, _, op = spec.partition(":")
    if not op:
        return name, ReduceOp.SUM
    if op not in _OPS:
        raise ValueError(
            f"Reduction operation is not valid (expected : {list(_OPS)}, got: {op}) in sync_all_reduce({spec!r})."
        )
    return name, _OPS[op]


def _reduced_copy(owner: Any, name: str, op: ReduceOp) -> Any:
    if name not in vars(owner):
        raise ValueError(
            f"Metric {type(owner)} has no attribute named `{name}`. Set it in reset() before compute() reduces it."
        )
    value = vars(owner)[name]
    if isinstance(value, bool) or not isinstance(value, Number | torch.Tensor):
        raise TypeError(
            f"Attribute provided to sync_all_reduce should be a number or tensor but `{name}` has type {type(value)}."
        )
    return all_reduce(value.clone() if isinstance(value, torch.Tensor) else value, op)


def sync_all_reduce(*attrs: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a metric method (usually ``compute``) so that it sees the named attributes combined over all
    processes; the attributes hold their own process's values again after the call.

    Args:
        attrs: attribute names, each optionally with its reduction: ``"name"`` (sum), ``"name:SUM"``,
            ``"name:MIN"``, ``"name:MAX"`` or ``"name:PRODUCT"``. Each must be a number or a tensor.

    In one process the method runs unchanged (the specs are still checked).

    Example:
        >>> from cadence.metrics.metric import Metric
        >>> class Mean(Metric):
        ...     required_output_keys = None
        ...     @reinit__is_reduced
        ...     def reset(self):
        ...         self._sum, self._num_examples = torch.tensor(0.0), 0
        ...     @reinit__is_reduced
        ...     def update(self, output):
        ...         self._sum += output.sum()
        ...         self._num_examples += len(output)
        ...     @sync_all_reduce("_sum", "_num_examples:SUM")
        ...     def compute(self):
        ...         return self._sum.item() / self._num_examples
        >>> mean = Mean()
        >>> mean.update(torch.tensor([1.0, 2.0, 6.0]))
        >>> mean.compute()
        3.0
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            owner = args[0] if args else None
            if not isinstance(owner, MetricBase):  # every Metric (whose module, above this one, re-exports these)
                raise RuntimeError(
                    f"Decorator sync_all_reduce should be used on Metric class methods only; {func.__qualname__} "
                    f"was called on {type(owner).__name__}."
                )
            specs = [_parse_spec(spec) for spec in attrs]
            if get_world_size() == 1 or not specs:
                return func(*args, **kwargs)
            own = {name: vars(owner).get(name) for name, _ in specs}
            reduced = {name: _reduced_copy(owner, name, op) for name, op in specs}
            try:
                vars(owner).update(reduced)
                return func(*args, **kwargs)
            finally:
                vars(owner).update(own)

        return wrapper

    return decorate
