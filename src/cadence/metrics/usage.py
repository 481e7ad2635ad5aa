"""Metric usages: which engine events reset a metric, feed it, and publish its value."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from cadence.engine import CallableEventWithFilter, Events

__all__ = [
    "BatchFiltered",
    "BatchWise",
    "EpochWise",
    "MetricUsage",
    "RunningBatchWise",
    "RunningEpochWise",
    "SingleEpochRunningBatchWise",
    "to_usage",
]


class MetricUsage:
    """The three events of a metric's life on an engine: reset, update, and publish.

    Args (in Ignite's order):
        started: the event that resets the metric.
        completed: the event that computes it into ``engine.state.metrics``.
        iteration_completed: the event that feeds it ``engine.state.output``.

    Example:
        >>> usage = MetricUsage(Events.STARTED, Events.COMPLETED, Events.ITERATION_COMPLETED)
        >>> usage.COMPLETED.name, usage.ITERATION_COMPLETED.name
        ('COMPLETED', 'ITERATION_COMPLETED')
    """

    usage_name: ClassVar[str] = "custom"

    def __init__(
        self,
        started: CallableEventWithFilter,
        completed: CallableEventWithFilter,
        iteration_completed: CallableEventWithFilter,
    ) -> None:
        self._started = started
        self._iteration_completed = iteration_completed
        self._completed = completed

    @property
    def STARTED(self) -> CallableEventWithFilter:
        """The event that resets the metric."""
        return self._started

    @property
    def ITERATION_COMPLETED(self) -> CallableEventWithFilter:
        """The event that updates the metric with the engine's output."""
        return self._iteration_completed

    @property
    def COMPLETED(self) -> CallableEventWithFilter:
        """The event that computes the metric into ``engine.state.metrics``."""
        return self._completed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._started!r}, {self._completed!r}, {self._iteration_completed!r})"


class EpochWise(MetricUsage):
    """Reset at each epoch start, update every iteration, publish at each epoch end (the default).

    Example:
        >>> EpochWise().STARTED.name, EpochWise.usage_name
        ('EPOCH_STARTED', 'epoch_wise')
    """

    usage_name: ClassVar[str] = "epoch_wise"

    def __init__(self) -> None:
        super().__init__(Events.EPOCH_STARTED, Events.EPOCH_COMPLETED, Events.ITERATION_COMPLETED)


class RunningEpochWise(EpochWise):
    """Reset once at the run start; update and publish at each epoch end (as Ignite).

    Meant for running measures over epochs, such as ``RunningAverage(src=Accuracy())``; a metric of the
    engine's output is updated with the last output of each epoch.

    Example:
        >>> RunningEpochWise().STARTED.name, RunningEpochWise().ITERATION_COMPLETED.name
        ('STARTED', 'EPOCH_COMPLETED')
    """

    usage_name: ClassVar[str] = "running_epoch_wise"

    def __init__(self) -> None:
        MetricUsage.__init__(self, Events.STARTED, Events.EPOCH_COMPLETED, Events.EPOCH_COMPLETED)


class BatchWise(MetricUsage):
    """Reset before each iteration, update and publish after it: a per-batch value.

    Example:
        >>> BatchWise().STARTED.name, BatchWise().COMPLETED.name
        ('ITERATION_STARTED', 'ITERATION_COMPLETED')
    """

    usage_name: ClassVar[str] = "batch_wise"

    def __init__(self) -> None:
        super().__init__(Events.ITERATION_STARTED, Events.ITERATION_COMPLETED, Events.ITERATION_COMPLETED)


class RunningBatchWise(BatchWise):
    """Reset once at the run start; update and publish after every iteration.

    Example:
        >>> RunningBatchWise().STARTED.name
        'STARTED'
    """

    usage_name: ClassVar[str] = "running_batch_wise"

    def __init__(self) -> None:
        MetricUsage.__init__(self, Events.STARTED, Events.ITERATION_COMPLETED, Events.ITERATION_COMPLETED)


class SingleEpochRunningBatchWise(BatchWise):
    """Reset at each epoch start; update and publish after every iteration.

    Example:
        >>> SingleEpochRunningBatchWise().STARTED.name
        'EPOCH_STARTED'
    """

    usage_name: ClassVar[str] = "single_epoch_running_batch_wise"

    def __init__(self) -> None:
        MetricUsage.__init__(self, Events.EPOCH_STARTED, Events.ITERATION_COMPLETED, Events.ITERATION_COMPLETED)


class BatchFiltered(MetricUsage):
    """Like :class:`EpochWise`, but only the iterations that pass a filter update the metric.

    Args:
        event_filter, every, once, before, after: the filter, as for ``Events.ITERATION_COMPLETED(...)``.

    Example:
        >>> BatchFiltered(every=2).ITERATION_COMPLETED
        ITERATION_COMPLETED(EventFilter(every=2))
    """

    usage_name: ClassVar[str] = "batch_filtered"

    def __init__(
        self,
        event_filter: Callable[[Any, int], bool] | None = None,
        *,
        every: int | None = None,
        once: int | Iterable[int] | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> None:
        filtered = Events.ITERATION_COMPLETED(
            event_filter=event_filter, every=every, once=once, before=before, after=after
        )
        super().__init__(Events.EPOCH_STARTED, Events.EPOCH_COMPLETED, filtered)


_BY_NAME: dict[str, Callable[[], MetricUsage]] = {
    cls.usage_name: cls
    for cls in (EpochWise, RunningEpochWise, BatchWise, RunningBatchWise, SingleEpochRunningBatchWise)
}


def to_usage(usage: MetricUsage | str | type[MetricUsage]) -> MetricUsage:
    """Turn a usage, a usage class, or one of Ignite's usage names into a :class:`MetricUsage`.

    Example:
        >>> type(to_usage("batch_wise")).__name__
        'BatchWise'
    """
    if isinstance(usage, MetricUsage):
        return usage
    if isinstance(usage, str) and usage in _BY_NAME:
        return _BY_NAME[usage]()
    if isinstance(usage, type) and usage in _BY_NAME.values():
        return _BY_NAME[usage.usage_name]()
    names = ", ".join(repr(name) for name in _BY_NAME)
    if isinstance(usage, str):
        raise ValueError(
            "Argument usage should be '(Running)EpochWise.usage_name' or '((SingleEpoch)Running)BatchWise.usage_name'"
            f", got {usage!r}: one of {names}, or a MetricUsage instance (e.g. BatchFiltered(every=2))."
        )
    raise TypeError(
        f"Unhandled usage type {type(usage)}: use a MetricUsage instance (e.g. EpochWise(), BatchFiltered(every=2)) "
        f"or one of {names}."
    )
