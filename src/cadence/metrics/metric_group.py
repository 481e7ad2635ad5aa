""":class:`MetricGroup`: several metrics fed by one output, computed together into a mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import identity

__all__ = ["MetricGroup"]


class MetricGroup(Metric):
    """Several metrics updated from the same engine output and computed into one ``{name: value}`` mapping.

    Each metric receives the group's (transformed) output passed through its own ``output_transform``.
    Attached under a name, the mapping is published whole under that name and item by item under its
    keys (see :class:`~cadence.metrics.metric.MetricsResultMode`).

    Args:
        metrics: name -> metric.
        output_transform: applied to the engine's output before the metrics' own transforms.
        skip_unrolling: as for :class:`Metric`.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> from cadence.metrics import Accuracy, Precision
        >>> group = MetricGroup({"accuracy": Accuracy(), "precision": Precision()})
        >>> engine = Engine(lambda engine, batch: batch)
        >>> group.attach(engine, "eval")
        >>> metrics = engine.run([(torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1]))]).metrics
        >>> round(metrics["accuracy"], 4), metrics["precision"], sorted(metrics["eval"])
        (0.6667, 1.0, ['accuracy', 'precision'])
    """

    _state_names = ("metrics",)

    def __init__(
        self,
        metrics: Mapping[str, Metric],
        output_transform: Callable[[Any], Any] = identity,
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(metrics, Mapping):
            raise TypeError(f"MetricGroup takes a mapping of name -> Metric, got {type(metrics).__name__}.")
        for name, metric in metrics.items():
            if not isinstance(metric, Metric):
                raise TypeError(f"MetricGroup entry {name!r} must be a Metric, got {type(metric).__name__}.")
        self.metrics = dict(metrics)
        super().__init__(output_transform, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"metrics": {name: type(metric).__name__ for name, metric in self.metrics.items()}}

    def reset(self) -> None:
        """Reset every metric of the group."""
        for metric in self.metrics.values():
            metric.reset()

    def update(self, output: Any) -> None:
        """Update each metric with ``output`` passed through that metric's own ``output_transform``."""
        for metric in self.metrics.values():
            metric.update(metric._output_transform(output))

    def compute(self) -> dict[str, Any]:
        """``{name: metric.compute()}`` for every metric of the group."""
        return {name: metric.compute() for name, metric in self.metrics.items()}
