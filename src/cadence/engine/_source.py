"""Where the engine's next batch comes from: its data opened at the run's position, a new pass when the data
runs out, and a batch given back when its iteration did not happen (a continued or resumed run feeds it again)."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from cadence.engine._data import open_iterator, stream_position
from cadence.engine.events import Events
from cadence.engine.state import State


class _DataExhausted(Exception):
    """The data, opened again for a pass the run still needs, gave no batch: the run stops (as Ignite's)."""


class DataSource:
    """The part of :class:`~cadence.engine.Engine` that opens, positions and re-reads its data."""

    state: State
    _control: int
    _data_iter: Iterator[Any] | None
    _data_origin: int
    _epoch_iteration: int
    _iteration_failed: bool
    _saved_data_state: dict[str, Any]

    if TYPE_CHECKING:

        def _fire(self, key: str, *event_args: Any, **event_kwargs: Any) -> None: ...

        def _honour_control(self) -> Generator[None, None, None]: ...

    def _unstep(self, fetched: bool) -> None:
        """Undo the count of an iteration whose process function did not return (terminate() from
        ITERATION_STARTED, an exception or Ctrl-C): a continued or resumed run feeds its batch again."""
        self._requeue_batch(fetched)
        self.state.iteration -= 1
        self._epoch_iteration -= 1

    def _requeue_batch(self, fetched: bool) -> None:
        if fetched and self._data_iter is not None:
            self._data_iter = itertools.chain((self.state.batch,), self._data_iter)

    def _uncount_failed_iteration(self) -> None:
        """After the ``EXCEPTION_RAISED`` handlers saw the failed iteration counted (as in Ignite), the state
        goes back to the last completed one: a continued or resumed run runs the failed batch again."""
        if self._iteration_failed:
            self._iteration_failed = False
            self.state.iteration -= 1
            self._epoch_iteration -= 1

    def _stream_position(self) -> tuple[int, int]:
        """The (pass, batch offset) of the next batch in the data stream."""
        state = self.state
        assert state.dataloader is not None
        return stream_position(
            state.dataloader,
            epoch=state.epoch,
            epoch_iteration=self._epoch_iteration,
            iteration=state.iteration,
            epoch_length=state.epoch_length,
            origin=self._data_origin,
        )

    def _new_iterator(self, *, new_pass: bool = False) -> Iterator[Any]:
        """Open the data at the current position (a resumed run), or at a new pass when exhausted."""
        assert self.state.dataloader is not None
        pass_index, offset = self._stream_position()
        return open_iterator(self.state.dataloader, pass_index, 0 if new_pass else offset, self._saved_data_state)

    def _on_data_exhausted(self, done: int) -> Generator[None, None, bool]:
        """Handle the end of the data; return whether the current epoch ends here, or open its next pass."""
        state = self.state
        if state.epoch_length is None:
            if done == 0:
                raise ValueError("data yielded no batch at all: there is nothing to iterate over.")
            state.epoch_length = done  # data of unknown length: its first exhaustion fixes the epoch length
            if state.max_iters is not None:  # as Ignite: the epochs the limit spans, once they can be counted
                state.max_epochs = -(-state.max_iters // done)
            return True
        self._fire(Events.DATALOADER_STOP_ITERATION.value)
        if self._control:
            yield from self._honour_control()
        self._data_iter = None  # the loop opens the next pass
        return False

    def _no_new_pass(self) -> None:
        """The data, opened again for a new pass, gave no batch: warn and stop the run (as Ignite)."""
        state = self.state
        warnings.warn(
            "Data iterator can not provide data anymore but the run's limit is not reached: iter(data) gave no "
            f"new batch at epoch {state.epoch}, iteration {state.iteration}, so the run stops here. A one-shot "
            "iterator or generator cannot be re-iterated: pass a re-iterable (a list, a DataLoader) or lower "
            "max_epochs/max_iters.",
            UserWarning,
            stacklevel=4,
        )
        raise _DataExhausted()
