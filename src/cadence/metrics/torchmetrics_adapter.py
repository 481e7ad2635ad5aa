""":class:`TorchMetricsAdapter`: attach a ``torchmetrics.Metric`` to an engine like any cadence metric.

torchmetrics is never imported here: a torchmetrics metric can only exist once the user has imported it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity

__all__ = ["TorchMetricsAdapter"]


def _is_torchmetric(value: object) -> bool:
    torchmetrics = sys.modules.get("torchmetrics")
    return torchmetrics is not None and isinstance(value, torchmetrics.Metric)


def _moved(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device, copy=True)
    if isinstance(value, list):
        return [_moved(v, device) for v in value]
    return value


class TorchMetricsAdapter(Metric):
    """Use a ``torchmetrics.Metric`` as a cadence metric.

    The engine's (transformed) output ``(y_pred, y)`` is passed as ``metric.update(y_pred, y)``; any
    other single value as ``metric.update(value)``. torchmetrics synchronises processes in its own
    ``compute()``. A dict result also lands in ``engine.state.metrics`` as ``name_key`` entries.

    Args:
        metric: the torchmetrics metric; it keeps its own device.
        output_transform: maps the engine's output to what ``metric.update`` takes.

    Example:
        >>> import torchmetrics
        >>> from cadence import Engine
        >>> engine = Engine(lambda engine, batch: batch)
        >>> TorchMetricsAdapter(torchmetrics.MeanSquaredError()).attach(engine, "mse")
        >>> engine.run([(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))]).metrics["mse"]
        2.0
    """

    _state_names = ("_states", "_update_count")
    _lazy_state_names = frozenset(_state_names)

    def __init__(
        self,
        metric: Any,
        output_transform: Callable[[Any], Any] = identity,
        *,
        skip_unrolling: bool = False,
    ) -> None:
        if not _is_torchmetric(metric):
            raise TypeError(
                f"TorchMetricsAdapter needs a torchmetrics.Metric instance, got {type(metric).__name__}; "
                "for a cadence metric, attach it directly."
            )
        self.metric = metric
        super().__init__(output_transform, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"torchmetric": type(self.metric).__name__}

    def reset(self) -> None:
        """Reset the torchmetrics metric."""
        self.metric.reset()

    def update(self, output: Any) -> None:
        """``metric.update(*output)`` for a tuple or list, else ``metric.update(output)``."""
        if isinstance(output, tuple | list):
            self.metric.update(*output)
        else:
            self.metric.update(output)

    def compute(self) -> Any:
        """``metric.compute()``: over all processes when distributed."""
        if self.metric.update_count == 0:
            raise NotComputableError(
                f"{type(self.metric).__name__} must have at least one update before it can be computed."
            )
        return self.metric.compute()

    # torchmetrics keeps its accumulators as attributes named in ``metric_state``; these expose them as one state.
    @property
    def _states(self) -> dict[str, Any]:
        return {name: _moved(value, torch.device("cpu")) for name, value in self.metric.metric_state.items()}

    @_states.setter
    def _states(self, states: Mapping[str, Any]) -> None:
        device = self.metric.device
        for name, value in states.items():
            setattr(self.metric, name, _moved(value, device))
        self.metric._computed = None  # torchmetrics caches compute(); the restored state invalidates it

    @property
    def _update_count(self) -> int:
        return int(self.metric.update_count)

    @_update_count.setter
    def _update_count(self, count: int) -> None:
        self.metric._update_count = count  # no public setter in torchmetrics; compute() checks it

    def _check_state(self, state: dict[str, Any]) -> None:
        expected = set(self.metric.metric_state)
        states = state["_states"]
        if not isinstance(states, Mapping) or set(states) != expected:
            got = sorted(states) if isinstance(states, Mapping) else type(states).__name__
            raise ValueError(f"Cannot load {type(self.metric).__name__} state: expected {sorted(expected)}, got {got}.")
        if isinstance(state["_update_count"], bool) or not isinstance(state["_update_count"], int):
            raise ValueError("Cannot load torchmetrics state: its update count must be an integer.")
