"""Whether a ``run()`` call starts afresh or continues, and the limits (``max_epochs``/``max_iters``) it runs to."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import Any

from cadence.engine._data import data_length
from cadence.engine.state import State

# Pending control requests, as bits of one int: several may be pending at once (a handler interrupts
# while another ends the epoch) and the hot path tests them all with a single truthiness check.
_TERMINATE, _SKIP_COMPLETED, _TERMINATE_EPOCH, _SKIP_EPOCH_COMPLETED, _INTERRUPT = 1, 2, 4, 8, 16
_REFRESH = 32  # per-iteration handlers attached or removed, or set_data(): the hot loop re-reads its local copies


def _one_of_several_processes() -> bool:
    """Whether this process is one of several of a ``torch.distributed`` job."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class RunLimits:
    """The part of :class:`~cadence.engine.Engine` that decides how a ``run()`` call begins."""

    state: State
    _control: int
    _run_gen: Generator[None, None, None] | None
    _data_iter: Iterator[Any] | None
    _data_origin: int
    _epoch_iteration: int
    _epoch_in_progress: bool

    def _starts_fresh(self, max_epochs: int | None, max_iters: int | None) -> bool:
        state = self.state
        if state.max_epochs is None and state.max_iters is None:  # never ran, or reset by the user
            if self._run_gen is not None:
                self._run_gen.close()
                self._run_gen = None
            return True
        if max_iters is not None and state.max_iters is None:
            raise ValueError(
                "To switch from max_epochs to max_iters mode during resume, you must first reset by setting "
                "'engine.state.max_epochs = None' before calling run()."
            )
        if max_epochs is not None and state.max_iters is not None:
            raise ValueError(
                "To switch from max_iters to max_epochs mode during resume, you must first reset by setting "
                "'engine.state.max_iters = None' before calling run()."
            )
        if self._run_gen is not None:
            return False
        if state.max_iters is not None:
            if not self._is_done():
                return False
            return max_iters is None or max_iters == state.iteration
        assert state.max_epochs is not None
        # As in Ignite, a run terminated during its last epoch counts as finished.
        terminated_last_epoch = bool(self._control & _TERMINATE) and state.epoch >= state.max_epochs
        if not (self._is_done() or terminated_last_epoch):
            return False
        return max_epochs is None or max_epochs == state.epoch

    def _start_fresh(
        self, data: Iterable[Any] | None, max_epochs: int | None, epoch_length: int | None, max_iters: int | None
    ) -> None:
        if data is None and epoch_length is None:
            raise ValueError(
                "epoch_length should be provided if data is None: it says how many iterations (with batch=None) "
                "make an epoch."
            )
        if epoch_length is None and data is not None:
            epoch_length = data_length(data)
            if epoch_length == 0 and (max_iters is not None or not _one_of_several_processes()):
                raise ValueError("Input data has zero size. Please provide non-empty data (len(data) == 0).")
            # A process's shard of a small dataset may be empty: it runs its epochs with no iteration, so that
            # it still joins the collectives of its handlers (metrics) that fire on epoch and run events.
        if max_epochs is None and max_iters is None:
            max_epochs = 1
        state = self.state
        state.iteration = state.epoch = 0
        state.epoch_length, state.max_iters, state.dataloader = epoch_length, max_iters, data
        state.max_epochs = max_epochs if max_iters is None else None  # as Ignite: a run has one of the two limits
        self._data_iter = None
        self._data_origin = 0
        self._epoch_iteration = 0
        self._epoch_in_progress = False

    def _continue(
        self, data: Iterable[Any] | None, max_epochs: int | None, epoch_length: int | None, max_iters: int | None
    ) -> None:
        state = self.state
        if epoch_length is not None and state.epoch_length is not None and epoch_length != state.epoch_length:
            raise ValueError(
                f"Argument epoch_length should be same as in the state, but given {epoch_length} vs "
                f"{state.epoch_length}: pass the same epoch_length or none, or set engine.state.max_epochs = None "
                "to start afresh."
            )
        if max_epochs is not None:
            if state.max_iters is not None:
                raise ValueError(
                    f"This run is limited by max_iters={state.max_iters}; continue it with max_iters, not max_epochs."
                )
            done = state.epoch - (1 if self._epoch_in_progress and self._epoch_iteration == 0 else 0)
            if max_epochs < done:
                raise ValueError(
                    "Argument max_epochs should be greater than or equal to the start epoch defined in the state: "
                    f"{max_epochs} vs {done}. Please, set engine.state.max_epochs = None before calling engine.run() "
                    "in order to restart the training from the beginning, or pass a larger max_epochs to continue."
                )
            state.max_epochs = max_epochs
        if max_iters is not None:
            if state.max_iters is None:
                raise ValueError(
                    f"This run is limited by max_epochs={state.max_epochs}; continue it with max_epochs, not max_iters."
                )
            if max_iters < state.iteration:
                raise ValueError(
                    "Argument max_iters should be greater than or equal to the start iteration defined in the state: "
                    f"{max_iters} vs {state.iteration}. Please, set engine.state.max_iters = None before calling "
                    "engine.run() in order to restart the training from the beginning, or pass a larger max_iters."
                )
            state.max_iters = max_iters
        if epoch_length is not None and state.epoch_length is None:
            state.epoch_length = epoch_length
        if data is not None and data is not state.dataloader:
            state.dataloader = data
            self._data_iter = None  # opened at the run's position when the first batch is needed
        if state.dataloader is None and state.epoch_length is None:
            raise ValueError(
                "epoch_length should be provided if data is None: the state has neither data nor an epoch length, "
                "so the run could never end an epoch."
            )

    def _is_done(self) -> bool:
        state = self.state
        if state.max_iters is not None:
            return state.iteration >= state.max_iters
        return state.max_epochs is not None and state.epoch >= state.max_epochs and not self._epoch_in_progress
