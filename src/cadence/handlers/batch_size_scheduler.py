"""Change a ``DataLoader``'s batch size as training goes, from a function of the event index."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

from torch.utils.data import BatchSampler, DataLoader

from cadence.engine import Engine, EpochResumable, Events, RemovableEventHandle
from cadence.handlers.scheduler_base import BaseParamScheduler, EventLike, check_integer, history_of

__all__ = ["BatchSizeScheduler"]


class BatchSizeScheduler(BaseParamScheduler, EpochResumable):
    """Set ``dataloader.batch_sampler.batch_size`` to ``scheduler_fn(event_index)`` at each event.

    Attach it to ``Events.EPOCH_STARTED`` (the default of :meth:`attach`): the loader's batches of
    that epoch have the new size. The loader must batch through a ``BatchSampler`` (the default
    when it is built with ``batch_size``).

    Args:
        dataloader: the loader whose batch size changes.
        scheduler_fn: gives the batch size (a positive integer) for event index 0, 1, 2...
        save_history: record each size in ``engine.state.param_history["batch_size"]``.

    Example:
        >>> BatchSizeScheduler.simulate_values(3, scheduler_fn=lambda epoch: 32 * 2**epoch)
        [[0, 32], [1, 64], [2, 128]]
    """

    def __init__(
        self, dataloader: DataLoader[Any], scheduler_fn: Callable[[int], int], save_history: bool = False
    ) -> None:
        super().__init__("batch_size", save_history)
        if not isinstance(dataloader, DataLoader):
            raise TypeError(
                f"Argument dataloader should be torch.utils.data.DataLoader, but given {type(dataloader).__name__}."
            )
        if not isinstance(dataloader.batch_sampler, BatchSampler):
            raise ValueError(
                "Argument dataloader should have a BatchSampler (dataloader.batch_sampler should be a "
                "torch.utils.data.BatchSampler): build the DataLoader with batch_size=..."
            )
        if not callable(scheduler_fn):
            raise TypeError(f"Argument scheduler_fn should be callable, but given {type(scheduler_fn).__name__}.")
        self.dataloader = dataloader
        self.scheduler_fn = scheduler_fn

    def get_param(self) -> int:
        return self.scheduler_fn(self.event_index)

    def __call__(self, engine: Engine[Any] | None = None) -> None:
        value = self._set_batch_size()
        if self.save_history and engine is not None:
            history_of(engine).setdefault(self.param_name, []).append(value)
        self.event_index += 1

    def resume_epoch(self, engine: Engine[Any]) -> None:
        """Set the batch size of the epoch that a run continues again, without a step (see
        :class:`~cadence.engine.EpochResumable`); the loader of a new process starts with its own.

        Example:
            >>> from torch.utils.data import DataLoader
            >>> from cadence import Engine, Events
            >>> loader = DataLoader(range(40), batch_size=1)
            >>> scheduler = BatchSizeScheduler(loader, scheduler_fn=lambda event: 2 + event)
            >>> sizes = []
            >>> engine = Engine(lambda engine, batch: sizes.append(len(batch)))
            >>> _ = scheduler.attach(engine)
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
            >>> _ = engine.run(loader, max_epochs=2, epoch_length=3)  # stops during epoch 1
            >>> loader.batch_sampler.batch_size = 1  # e.g. the loader of a new process
            >>> _ = engine.run(loader, max_epochs=2, epoch_length=3)  # epoch 1 goes on with batches of 2
            >>> sizes
            [2, 2, 2, 3, 3, 3]
        """
        if self.event_index == 0:  # nothing was set before the run stopped (the scheduler's state was not loaded)
            self(engine)
            return
        self._set_last_batch_size()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict`, and with it the loader's batch size: the size the
        schedule had set when the state was saved. A run resumed in a new process, whose loader starts with its
        initial size, then reads the data the checkpoint was made with (its length is checked when the run
        starts, before any handler runs).

        Example:
            >>> from torch.utils.data import DataLoader
            >>> loader = DataLoader(range(40), batch_size=2)
            >>> scheduler = BatchSizeScheduler(loader, scheduler_fn=lambda event: 2 * 2**event)
            >>> state = scheduler.state_dict()
            >>> state["event_index"] = 3  # saved during the third epoch
            >>> scheduler.load_state_dict(state)
            >>> loader.batch_sampler.batch_size, len(loader)
            (8, 5)
        """
        super().load_state_dict(state_dict)
        if self.event_index > 0:  # the schedule had set a size
            self._set_last_batch_size()

    def _set_last_batch_size(self) -> None:
        """Set the size of the last event the schedule saw (``event_index - 1``) again, without a step."""
        self.event_index -= 1
        try:
            self._set_batch_size()
        finally:
            self.event_index += 1

    def _set_batch_size(self) -> int:
        value = self.get_param()
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"Batch size returned by scheduler_fn should be a positive integer, but given {value!r}.")
        batch_sampler = self.dataloader.batch_sampler
        assert isinstance(batch_sampler, BatchSampler)  # checked in __init__
        batch_sampler.batch_size = int(value)
        return int(value)

    def attach(self, engine: Engine[Any], event: EventLike = Events.EPOCH_STARTED) -> RemovableEventHandle:
        """Call this scheduler each time ``event`` fires on ``engine``; return the removable handle."""
        return engine.add_event_handler(event, self)

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """Rows ``[event_index, batch_size]`` that ``scheduler_fn`` gives for the first ``num_events`` events."""
        check_integer("num_events", num_events, 0)
        scheduler_fn = scheduler_kwargs.get("scheduler_fn")
        if not callable(scheduler_fn):
            raise TypeError(f"Argument scheduler_fn should be callable, but given {type(scheduler_fn).__name__}.")
        return [[index, scheduler_fn(index)] for index in range(num_events)]
