""":class:`MetricsLambda`: a metric computed from other metrics by a function, evaluated lazily."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from cadence.engine import Engine
from cadence.metrics.metric import Metric, MetricsResultMode, identity
from cadence.metrics.usage import MetricUsage, to_usage

__all__ = ["MetricsLambda"]


class MetricsLambda(Metric):
    """``f(*args, **kwargs)`` where every metric among the arguments is replaced by its ``compute()``.

    Attaching it attaches the metrics it depends on (their reset and update handlers, once), so they
    need not be attached themselves. Arithmetic on metrics (``precision * 2``, ``m[0]``, ``m.mean()``)
    builds one of these. As in Ignite, building one resets the metrics it depends on, and it is used
    either attached to an engine or by hand (:meth:`update`/:meth:`compute`), not both at once.

    Args:
        f: the function applied to the computed values (tensors among them moved to the CPU).
        args, kwargs: metrics and plain values passed to ``f``.
        skip_unrolling, metrics_result_mode: as for :class:`Metric`.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> from cadence.metrics import Precision, Recall
        >>> precision, recall = Precision(average=False), Recall(average=False)
        >>> f1 = MetricsLambda(lambda p, r: 2 * p * r / (p + r), precision, recall)
        >>> engine = Engine(lambda engine, batch: batch)
        >>> f1.attach(engine, "f1")
        >>> y_pred, y = torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 0, 0])
        >>> round(engine.run([(y_pred, y)]).metrics["f1"], 4)
        0.6667
    """

    required_output_keys = None

    def __init__(
        self,
        f: Callable[..., Any],
        *args: Any,
        skip_unrolling: bool = False,
        metrics_result_mode: MetricsResultMode | str = MetricsResultMode.BOTH,
        **kwargs: Any,
    ) -> None:
        if not callable(f):
            raise TypeError(f"MetricsLambda needs a callable as its first argument, got {f!r}.")
        self.function = f
        self.args = list(args)
        self.kwargs = kwargs
        self._engine: weakref.ref[Engine[Any]] | None = None
        self._updated = False
        # The dependencies' handlers that attach() added (not those already there), so detach() removes only them.
        self._added: weakref.WeakKeyDictionary[Engine[Any], list[tuple[Metric, str]]] = weakref.WeakKeyDictionary()
        super().__init__(identity, "cpu", skip_unrolling, metrics_result_mode)

    @property
    def engine(self) -> Engine[Any] | None:
        """The engine this metric is attached to (``None`` when it is not)."""
        return None if self._engine is None else self._engine()

    def _dependencies(self) -> Iterator[Metric]:
        for value in itertools.chain(self.args, self.kwargs.values()):
            if isinstance(value, Metric):
                yield value

    def reset(self) -> None:
        """Reset every metric this one depends on."""
        for metric in self._dependencies():
            metric.reset()
        self._updated = False

    def _leaves(self) -> list[Metric]:
        """The metrics (not lambdas) this one depends on, each once."""
        leaves: dict[int, Metric] = {}
        for metric in self._dependencies():
            for leaf in metric._leaves() if isinstance(metric, MetricsLambda) else [metric]:
                leaves.setdefault(id(leaf), leaf)
        return list(leaves.values())

    def update(self, output: Any) -> None:
        """Update each metric this one depends on once (by hand; when attached, the engine does it)."""
        if self.engine is not None:
            raise ValueError(
                "MetricsLambda is already attached to an engine, which updates its dependencies; "
                "calling update() as well would count the data twice. Detach it first."
            )
        for metric in self._leaves():
            metric.update(output)
        self._updated = True

    def compute(self) -> Any:
        """``f`` applied to the computed values of the metrics among the arguments."""
        args = [_value_on_cpu(a) for a in self.args]
        kwargs = {k: _value_on_cpu(v) for k, v in self.kwargs.items()}
        return self.function(*args, **kwargs)

    def attach(self, engine: Engine[Any], name: str, usage: MetricUsage | str = "epoch_wise") -> None:
        """Attach the dependencies' reset and update handlers (once each), and publish as ``name``."""
        if self._updated:
            raise ValueError(
                "The underlying metrics are already updated by hand (update()); call reset() before attaching, "
                "so that the engine's data is not mixed with it."
            )
        usage = self._check_attach(engine, name, usage)
        self._attach_dependencies(engine, usage, self._added.setdefault(engine, []))
        engine.add_event_handler(usage.COMPLETED, self.completed, name)
        self._engine = weakref.ref(engine)

    def _attach_dependencies(self, engine: Engine[Any], usage: MetricUsage, added: list[tuple[Metric, str]]) -> None:
        for metric in self._dependencies():
            if isinstance(metric, MetricsLambda):
                metric._attach_dependencies(engine, usage, added)
                continue
            metric._reset_event = usage.STARTED
            if not engine.has_event_handler(metric.started, usage.STARTED):
                engine.add_event_handler(usage.STARTED, metric.started)
                added.append((metric, "started"))
            if not engine.has_event_handler(metric.iteration_completed, usage.ITERATION_COMPLETED):
                engine.add_event_handler(usage.ITERATION_COMPLETED, metric.iteration_completed)
                added.append((metric, "iteration_completed"))

    def detach(self, engine: Engine[Any], usage: MetricUsage | str = "epoch_wise") -> None:
        """Stop publishing, and remove the dependencies' handlers that :meth:`attach` added for ``usage``.

        A dependency that publishes under its own name keeps its handlers.
        """
        usage = to_usage(usage)
        super().detach(engine, usage)
        self._engine = None
        kept = []
        for metric, handler_name in self._added.pop(engine, []):
            event = usage.STARTED if handler_name == "started" else usage.ITERATION_COMPLETED
            handler = getattr(metric, handler_name)
            if not engine.has_event_handler(handler, event):
                kept.append((metric, handler_name))  # added for another usage
            elif not metric.is_attached(engine, usage):
                engine.remove_event_handler(handler, event)
        if kept:
            self._added[engine] = kept

    def is_attached(self, engine: Engine[Any], usage: MetricUsage | str = "epoch_wise") -> bool:
        """Whether this metric publishes on ``engine`` and all its dependencies are updated there."""
        usage = to_usage(usage)
        return super().is_attached(engine, usage) and all(
            engine.has_event_handler(m.iteration_completed, usage.ITERATION_COMPLETED) for m in self._leaves()
        )

    def started(self, engine: Engine[Any]) -> None:
        """Reset the dependencies (as :meth:`Metric.started` does for each)."""
        for metric in self._dependencies():
            metric.started(engine)

    def state_dict(self) -> dict[str, Any]:
        """The states of the metrics this one depends on, in argument order."""
        return {
            "metric": type(self).__name__,
            "config": {},
            "state": {"dependencies": [m.state_dict() for m in self._dependencies()]},
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the states of the metrics this one depends on."""
        dependencies = list(self._dependencies())
        ok = isinstance(state_dict, Mapping) and state_dict.get("metric") == type(self).__name__
        saved = state_dict["state"].get("dependencies") if ok and isinstance(state_dict.get("state"), Mapping) else None
        if not isinstance(saved, list):
            raise ValueError(f"Cannot load {state_dict!r:.200} into a MetricsLambda: it was not made by one.")
        if len(saved) != len(dependencies):
            raise ValueError(
                f"This MetricsLambda depends on {len(dependencies)} metrics, but the state holds {len(saved)}."
            )
        for metric, state in zip(dependencies, saved, strict=True):
            metric.load_state_dict(state)


def _value_on_cpu(value: Any) -> Any:
    if isinstance(value, Metric):
        value = value.compute()
    return value.cpu() if isinstance(value, torch.Tensor) else value
