"""The :class:`Engine`: one loop over data, a process function per batch, and events around it."""

from __future__ import annotations

import enum
import itertools
import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from cadence.engine._data import check_saved_data, data_states
from cadence.engine._handlers import check_process_function, describe
from cadence.engine._limits import (
    _INTERRUPT,
    _REFRESH,
    _SKIP_COMPLETED,
    _SKIP_EPOCH_COMPLETED,
    _TERMINATE,
    _TERMINATE_EPOCH,
    RunLimits,
)
from cadence.engine._log import Elapsed as _Elapsed
from cadence.engine._source import DataSource, _DataExhausted
from cadence.engine.dispatch import (
    GET_BATCH_COMPLETED,
    GET_BATCH_STARTED,
    ITERATION_COMPLETED,
    ITERATION_STARTED,
    EventDispatcher,
)
from cadence.engine.events import Events
from cadence.engine.state import State, validate_state_dict

__all__ = ["Engine"]

OutputT = TypeVar("OutputT")


_EPOCH_TIME, _RUN_TIME = Events.EPOCH_COMPLETED.name, Events.COMPLETED.name
# Module constants: an Enum attribute lookup per fired event is measurable on the hot path.
_GET_BATCH_STARTED, _GET_BATCH_COMPLETED = Events.GET_BATCH_STARTED, Events.GET_BATCH_COMPLETED
_ITERATION_STARTED, _ITERATION_COMPLETED = Events.ITERATION_STARTED, Events.ITERATION_COMPLETED


class _Phase(enum.Enum):
    """Where the run stands relative to the current epoch's iterations (for terminate_epoch)."""

    OUTSIDE = "outside"
    RUNNING = "running"
    ENDED = "ended"


class _Terminate(Exception):
    pass


class _TerminateEpoch(Exception):
    pass


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


class Engine(RunLimits, DataSource, EventDispatcher, Generic[OutputT]):
    """Runs ``process_function(engine, batch)`` over data for some epochs and fires events around it.

    Args:
        process_function: called once per batch as ``process_function(engine, batch)``; its return
            value becomes ``engine.state.output``.

    Example:
        >>> engine = Engine(lambda engine, batch: batch * 2)
        >>> @engine.on(Events.EPOCH_COMPLETED)
        ... def report(engine):
        ...     print(engine.state.epoch, engine.state.output)
        >>> state = engine.run([1, 2, 3], max_epochs=2)
        1 6
        2 6
        >>> state.iteration
        6
    """

    #: Whether :meth:`interrupt` may be used (Ignite's class-wide switch); ``False`` makes it an error.
    interrupt_resume_enabled: bool = True

    def __init__(self, process_function: Callable[[Engine[OutputT], Any], OutputT]) -> None:
        check_process_function(process_function)
        self._process_function = process_function
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")
        self._control = 0  # the pending requests (bits above)
        super().__init__()
        self.state = State(event_to_attr=self._event_to_attr)
        self.state_dict_user_keys: list[str] = []
        self._run_gen: Generator[None, None, None] | None = None
        self._data_iter: Iterator[Any] | None = None
        self._epoch_iteration = 0  # iterations done in the current epoch: where a resumed run picks up
        self._epoch_in_progress = False  # state.epoch counts an epoch that has started but not completed
        self._iteration_phase = _Phase.OUTSIDE
        self._running = False  # refuses run() from this engine's own handlers
        self._starting = False  # STARTED handlers run: load_state_dict may still move the run (as Ignite's)
        self._saved_data_state: dict[str, Any] = {}  # data/sampler state loaded with a checkpoint
        self._data_origin = 0  # the iteration at which the data was last read from its start
        self._resuming_epoch = False
        self._iteration_failed = False  # state.iteration counts an iteration that raised (see EXCEPTION_RAISED)
        self._observers: tuple[Callable[[Engine[Any], BaseException], None], ...] = ()

    # ------------------------------------------------------------------ control
    def terminate(self, skip_completed: bool = False) -> None:
        """Stop the run after the current event: ``TERMINATE`` fires, then ``COMPLETED`` unless skipped.

        A later :meth:`run` continues from the next iteration.
        """
        self.logger.info("Terminate signaled. Engine will stop after current iteration is finished.")
        self._control |= _TERMINATE | (_SKIP_COMPLETED if skip_completed else 0)

    def terminate_epoch(self, skip_epoch_completed: bool = False) -> None:
        """End the current epoch after the current event; the run goes on with the next epoch.

        ``TERMINATE_SINGLE_EPOCH`` fires (with ``iter_counter=``), then ``EPOCH_COMPLETED`` unless skipped.
        An error from ``STARTED`` or ``EPOCH_STARTED`` handlers; nothing happens once the epoch's iterations
        are over (an ``EPOCH_COMPLETED`` handler).
        """
        if self._iteration_phase is _Phase.OUTSIDE:
            raise RuntimeError(
                "terminate_epoch() can only be called once an epoch's iterations run (from the process "
                "function or GET_BATCH_*/ITERATION_*/DATALOADER_STOP_ITERATION handlers), not from STARTED or "
                "EPOCH_STARTED handlers nor outside a run; use terminate() to stop the run."
            )
        if self._iteration_phase is _Phase.ENDED:
            return  # the epoch's iterations are over (EPOCH_COMPLETED): nothing left to cut short, as in Ignite
        self.logger.info(
            "Terminate current epoch is signaled. "
            "Current epoch iteration will stop after current iteration is finished."
        )
        self._control |= _TERMINATE_EPOCH | (_SKIP_EPOCH_COMPLETED if skip_epoch_completed else 0)

    def interrupt(self) -> None:
        """Pause the run after the current event: ``INTERRUPT`` fires and :meth:`run` returns.

        The next :meth:`run` call continues exactly where it paused, with the same data iterator.
        """
        if not self.interrupt_resume_enabled:
            raise RuntimeError(
                "Engine 'interrupt/resume' feature is disabled: set Engine.interrupt_resume_enabled = True to use "
                "interrupt(), or stop the run with terminate()."
            )
        self._control |= _INTERRUPT

    @property
    def should_terminate(self) -> bool | str:
        """Whether :meth:`terminate` was called (for the pending or the last run); as in Ignite,
        ``"skip_completed"`` when it was called with ``skip_completed=True``."""
        if not self._control & _TERMINATE:
            return False
        return "skip_completed" if self._control & _SKIP_COMPLETED else True

    @property
    def should_terminate_single_epoch(self) -> bool | str:
        """Whether a :meth:`terminate_epoch` request is pending; as in Ignite, ``"skip_epoch_completed"``
        when it was made with ``skip_epoch_completed=True``."""
        if not self._control & _TERMINATE_EPOCH:
            return False
        return "skip_epoch_completed" if self._control & _SKIP_EPOCH_COMPLETED else True

    @property
    def resuming_epoch(self) -> bool:
        """Whether the ``STARTED``/``EPOCH_STARTED`` handlers now running start an epoch that had already begun.

        A run continued after :meth:`terminate`, an exception or :meth:`load_state_dict` mid-epoch fires
        ``STARTED`` and ``EPOCH_STARTED`` again (as Ignite) before its next iteration. A handler whose
        effect must happen once per epoch (a scheduler stepping on ``EPOCH_STARTED``, a metric reset) is
        made an :class:`~cadence.engine.EpochResumable`: the engine then calls its ``resume_epoch(engine)``
        instead of the handler; cadence's schedulers and metrics are such handlers.

        Example:
            >>> engine = Engine(lambda engine, batch: None)
            >>> seen = []
            >>> _ = engine.add_event_handler(Events.EPOCH_STARTED, lambda e: seen.append(e.resuming_epoch))
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
            >>> _ = engine.run([1, 2, 3], max_epochs=2)
            >>> _ = engine.run([1, 2, 3], max_epochs=2)
            >>> seen
            [False, True, False]
        """
        return self._resuming_epoch

    @property
    def should_interrupt(self) -> bool:
        """Whether an :meth:`interrupt` request is pending."""
        return bool(self._control & _INTERRUPT)

    def _honour_control(self) -> Generator[None, None, None]:
        """Act on pending requests, as Ignite: terminate first, then terminate_epoch, then interrupt."""
        self._control &= ~_REFRESH  # the hot loop re-reads its handlers after every call of this
        if self._control & _TERMINATE:
            raise _Terminate()
        if self._control & _TERMINATE_EPOCH and self._iteration_phase is _Phase.RUNNING:
            raise _TerminateEpoch()  # cleared by _run_epoch; an interrupt still pending is honoured after it
        if self._control & _INTERRUPT:
            self._control &= ~_INTERRUPT
            self._fire(Events.INTERRUPT.value)
            yield  # run() returns here; the next run() resumes right after

    # ------------------------------------------------------------------ running
    def run(
        self,
        data: Iterable[Any] | None = None,
        max_epochs: int | None = None,
        epoch_length: int | None = None,
        max_iters: int | None = None,
    ) -> State:
        """Run (or continue) the loop over ``data`` and return the state.

        A fresh run starts when the engine has never run, when the previous run finished (unless a
        larger ``max_epochs``/``max_iters`` extends it) or after ``engine.state.max_epochs = None``.
        Otherwise the run continues where it stopped: after :meth:`interrupt` exactly at the next
        event, after :meth:`terminate`, an exception or :meth:`load_state_dict` at the next iteration.

        Args:
            data: any iterable, re-iterated with ``iter(data)`` only when exhausted; ``None`` together
                with ``epoch_length`` calls the process function with ``batch=None``.
            max_epochs: epochs to run (default 1 for a fresh run); excludes ``max_iters``.
            epoch_length: iterations per epoch (default ``len(data)``, or fixed when data of unknown
                length is first exhausted).
            max_iters: total iterations to run; excludes ``max_epochs``.

        Example:
            >>> engine = Engine(lambda engine, batch: batch)
            >>> engine.run(range(10), max_epochs=2, epoch_length=4).iteration
            8
        """
        _check_limit("max_epochs", max_epochs)
        _check_limit("epoch_length", epoch_length)
        _check_limit("max_iters", max_iters)
        if max_epochs is not None and max_iters is not None:
            raise ValueError(
                "Arguments max_iters and max_epochs are mutually exclusive. "
                "Please provide only max_epochs or max_iters."
            )
        if data is not None and not isinstance(data, Iterable):
            raise TypeError(
                "Argument data should be iterable (a list, DataLoader, generator...) or None, "
                f"got {type(data).__name__}."
            )
        if self._running:
            raise RuntimeError("Engine.run() was called from one of this engine's own handlers; that is not supported.")
        if self._starts_fresh(max_epochs, max_iters):
            self._start_fresh(data, max_epochs, epoch_length, max_iters)
            limit = (
                f"max_iters={self.state.max_iters}" if self.state.max_iters else f"max_epochs={self.state.max_epochs}"
            )
            self.logger.info("Engine run starting with %s.", limit)
        else:
            self._continue(data, max_epochs, epoch_length, max_iters)
            state = self.state
            until = f"{state.max_iters} iterations" if state.max_iters else f"{state.max_epochs} epochs"
            self.logger.info(
                "Engine run resuming from iteration %s, epoch %s until %s", state.iteration, state.epoch, until
            )
        if self._saved_data_state and self.state.dataloader is not None:
            check_saved_data(self.state.dataloader, self._saved_data_state)  # before anything runs or fires
        if self._run_gen is None:
            self._run_gen = self._run_as_gen()
        self._running = True
        try:
            next(self._run_gen)  # returns normally only when the run was interrupted
        except StopIteration:
            self._run_gen = None
        except BaseException:
            self._run_gen = None
            raise
        finally:
            self._running = False
        return self.state

    def _run_as_gen(self) -> Generator[None, None, None]:
        state = self.state
        self._control = 0
        self._resuming_epoch = self._epoch_in_progress or self._epoch_iteration > 0
        if self._epoch_in_progress:  # a partly run epoch resumes with EPOCH_STARTED, then its next iteration
            state.epoch -= 1
            self._epoch_in_progress = False
        start = time.perf_counter()
        try:
            try:
                self._starting = True
                try:
                    self._fire(Events.STARTED.value)
                finally:
                    self._starting = False
                if self._control:
                    yield from self._honour_control()
                while not self._is_done():
                    yield from self._run_epoch()
            except _Terminate:
                self._fire(Events.TERMINATE.value)
            except _DataExhausted:
                pass
            state.times[_RUN_TIME] = time.perf_counter() - start
            if not self._control & _SKIP_COMPLETED:
                self._fire(Events.COMPLETED.value)
                state.times[_RUN_TIME] = time.perf_counter() - start
            self.logger.info("Engine run finished. Time taken: %s", _Elapsed(state.times[_RUN_TIME]))
            if self._is_done():
                self._data_iter = None
        except GeneratorExit:
            raise
        except BaseException as exc:
            if not isinstance(self.state.dataloader, Iterator):  # a one-shot iterator is kept: it cannot be re-read
                self._data_iter = None  # it may be broken; a resumed run positions a fresh one
            self._iteration_phase = _Phase.OUTSIDE
            if isinstance(exc, Exception):
                self.logger.error("Current run is terminating due to exception: %s", exc)
            try:
                self._notify_observers(exc)
                if not self._handlers.get(Events.EXCEPTION_RAISED.value):
                    raise
                self._fire(Events.EXCEPTION_RAISED.value, exc)
            finally:
                self._uncount_failed_iteration()
            if not isinstance(exc, Exception):
                raise  # Ctrl-C and SystemExit still stop the program once the handlers have seen them
        finally:
            self._control &= _TERMINATE | _SKIP_COMPLETED  # should_terminate still tells how the last run ended

    def _run_epoch(self) -> Generator[None, None, None]:
        state = self.state
        state.epoch += 1
        self._epoch_in_progress = True
        start = time.perf_counter()
        self._fire(Events.EPOCH_STARTED.value)
        self._resuming_epoch = False
        if self._control:
            yield from self._honour_control()
        skip_completed = False
        self._iteration_phase = _Phase.RUNNING
        try:
            yield from self._run_iterations()
        except _TerminateEpoch:
            skip_completed = bool(self._control & _SKIP_EPOCH_COMPLETED)
            self._control &= ~(_TERMINATE_EPOCH | _SKIP_EPOCH_COMPLETED)
            self._data_iter = None  # the next epoch reads the data from its start, as in Ignite
            self._data_origin = state.iteration
            self._fire(Events.TERMINATE_SINGLE_EPOCH.value, iter_counter=self._epoch_iteration)
        finally:
            self._iteration_phase = _Phase.ENDED
        self._epoch_iteration = 0
        self._epoch_in_progress = False
        state.times[_EPOCH_TIME] = time.perf_counter() - start
        if not skip_completed:
            self._fire(Events.EPOCH_COMPLETED.value)
            state.times[_EPOCH_TIME] = time.perf_counter() - start
            self.logger.info("Epoch[%s] Complete. Time taken: %s", state.epoch, _Elapsed(state.times[_EPOCH_TIME]))
            if self._control:
                yield from self._honour_control()
        self._iteration_phase = _Phase.OUTSIDE

    def _run_iterations(self) -> Generator[None, None, None]:
        """The hot loop: no logging, no clock, and one falsy check per event nobody listens to."""
        state = self.state
        process = self._process_function
        fetch = state.dataloader is not None
        done = self._epoch_iteration
        # Local copies of the epoch's end and the last iteration (-1: none) and of the handlers of the four
        # per-iteration events, re-read after every pause: run() may raise the limits while this loop is paused,
        # and attaching or removing a handler of these events or set_data() while running is a control request
        # (_REFRESH) that pauses the loop here. The source of batches (source) changes with set_data(): the loop
        # takes the new one at its next fetch.
        epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
        if 0 <= epoch_end <= done:
            return
        if fetch:
            state.batch = None  # as Ignite: the batch is dropped before the next is fetched
        if get_started:  # before the first fetch; later ones are announced at the end of each iteration
            self._fire_hot(GET_BATCH_STARTED, state.iteration, _GET_BATCH_STARTED)
            if self._control:
                yield from self._honour_control()
                epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
        new_pass = False
        # A `for` loop over the data: Python's cheapest fetch, and a backward jump that CPython 3.11 counts to
        # specialize the loop's bytecode (the jump of a `while <test>` loop does not: this function runs once
        # per epoch, so such a loop ran unspecialized, 2-3x slower, until the process's 8th epoch).
        while True:  # one turn per pass over the data: an epoch longer than the data reads it again
            if self._data_iter is None:
                self._data_iter = self._new_iterator(new_pass=new_pass) if fetch else itertools.repeat(None)
            source = data_iter = self._data_iter
            pass_start = done
            for batch in data_iter:
                state.batch = batch
                state.output = None  # as Ignite: the previous output is dropped before the step, the batch below
                if get_completed:
                    self._fire_hot(GET_BATCH_COMPLETED, state.iteration, _GET_BATCH_COMPLETED)
                    if self._control:
                        yield from self._honour_control()
                        epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
                    batch = state.batch  # a handler may have replaced it
                state.iteration += 1
                done += 1
                self._epoch_iteration = done
                try:  # free when nothing is raised; otherwise the iteration did not happen and runs again
                    if started:
                        self._fire_hot(ITERATION_STARTED, state.iteration, _ITERATION_STARTED)
                        if self._control:
                            yield from self._honour_control()
                            epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
                        batch = state.batch
                    state.output = process(self, batch)
                except (_TerminateEpoch, GeneratorExit):
                    raise  # as Ignite, an epoch ended from ITERATION_STARTED counts the iteration
                except _Terminate:
                    self._unstep(fetch)
                    raise
                except BaseException:
                    self._requeue_batch(fetch)
                    self._iteration_failed = True  # counted until EXCEPTION_RAISED handlers ran (Ignite's number)
                    raise
                control = self._control
                if control and control & _REFRESH:  # the process function attached or removed a handler
                    self._control = control = control & ~_REFRESH
                    epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
                if completed:
                    if completed.__class__ is tuple:  # handlers without filters: called here, in order
                        self.last_event_name = _ITERATION_COMPLETED
                        for call in completed:
                            call(self)
                    else:
                        self._fire_hot(ITERATION_COMPLETED, state.iteration, _ITERATION_COMPLETED)
                    control = self._control
                if control:  # terminate() and the like, from the process function or a handler: after the handlers
                    yield from self._honour_control()
                    epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
                if state.iteration == last:
                    if done != epoch_end:
                        raise _Terminate()  # as Ignite: the limit cuts the epoch short (TERMINATE, no EPOCH_COMPLETED)
                    return
                if done == epoch_end:
                    return
                state.batch = batch = None  # as Ignite: the batch is dropped before the next is fetched
                if get_started:
                    self._fire_hot(GET_BATCH_STARTED, state.iteration, _GET_BATCH_STARTED)
                    if self._control:
                        yield from self._honour_control()
                        epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
                if source is not data_iter:
                    break  # set_data() from a handler or the process function: the next batch is the new data's
            else:
                if new_pass and done == pass_start:
                    self._no_new_pass()
                epoch_ends = yield from self._on_data_exhausted(done)
                if epoch_ends:
                    return
                epoch_end, last, get_started, get_completed, started, completed, source = self._hot_locals()
                new_pass = True

    def observe_exceptions(self, observer: Callable[[Engine[Any], BaseException], None]) -> Callable[[], None]:
        """Call ``observer(engine, exception)`` when a run stops on an exception (Ctrl-C included), before the
        ``EXCEPTION_RAISED`` handlers; return a function that removes it.

        Unlike a handler of ``EXCEPTION_RAISED``, an observer does not handle the exception: ``run()`` still
        raises it unless such a handler exists (Ignite's rule). For handlers that must clean up (stop a thread,
        close a profiler) without changing what the user's program sees. An error raised by an observer is
        logged and the others still run.

        Example:
            >>> def step(engine, batch):
            ...     raise ValueError("bad batch")
            >>> engine = Engine(step)
            >>> remove = engine.observe_exceptions(lambda engine, error: print("saw", repr(error)))
            >>> try:
            ...     _ = engine.run([1])
            ... except ValueError:
            ...     print("raised")
            saw ValueError('bad batch')
            raised
            >>> remove()
        """
        if not callable(observer):
            raise TypeError(f"observer must be callable as observer(engine, exception), got {observer!r}.")
        self._observers = (*self._observers, observer)

        def remove() -> None:
            self._observers = tuple(o for o in self._observers if o is not observer)

        return remove

    def _notify_observers(self, exc: BaseException) -> None:
        for observer in self._observers:
            try:
                observer(self, exc)
            except Exception:  # an observer must not hide the run's own error
                self.logger.exception("An exception observer (%s) failed", describe(observer))

    def _hot_locals(self) -> tuple[int, int, Any, Any, Any, Any, Iterator[Any] | None]:
        """What the hot loop keeps in locals: the epoch length and ``max_iters`` (-1 when there is none: an int
        compares faster), and what it checks for the four per-iteration events: falsy when nobody listens (the
        batch events too when there is no data); for ITERATION_COMPLETED, the tuple of its handlers when none
        is filtered (called in the loop itself); and the source of batches (``None`` until opened)."""
        hot = self._hot
        completed: Any = self._hot_calls[ITERATION_COMPLETED]
        if completed is None:  # filtered handlers (or none yet): the dispatcher's own way
            completed = bool(hot[ITERATION_COMPLETED])
        state = self.state
        fetch = state.dataloader is not None
        return (
            -1 if state.epoch_length is None else state.epoch_length,
            -1 if state.max_iters is None else state.max_iters,
            fetch and hot[GET_BATCH_STARTED],
            fetch and hot[GET_BATCH_COMPLETED],
            hot[ITERATION_STARTED],
            completed,
            self._data_iter,
        )

    def _hot_changed(self) -> None:
        self._control |= _REFRESH

    def set_data(self, data: Iterable[Any]) -> None:
        """Swap the data source; the next batch comes from ``data``. ``epoch_length`` is kept.

        Example:
            >>> engine = Engine(lambda engine, batch: batch)
            >>> @engine.on(Events.EPOCH_COMPLETED(once=1))
            ... def swap(engine):
            ...     engine.set_data([10, 20])
            >>> engine.run([1, 2], max_epochs=2).output
            20
        """
        if not isinstance(data, Iterable):
            raise TypeError(f"set_data needs an iterable, got {type(data).__name__}.")
        self.state.dataloader = data
        self._data_iter = iter(data)  # from the start of the new data, not positioned
        self._data_origin = self.state.iteration
        self._control |= _REFRESH  # a running loop fetches from the new iterator

    # ------------------------------------------------------------------ serialisation
    def state_dict(self) -> dict[str, Any]:
        """Return the run position: ``epoch_length``, ``iteration``, ``max_epochs`` or ``max_iters``, the
        state attributes named in ``engine.state_dict_user_keys``, ``state.metrics`` (``"metrics"``, when
        not empty, so that a resumed run publishes the same values), the data's length (``"data_length"``,
        checked on resume), and, when the data can say where it stands, its state (a
        ``StatefulDataLoader``'s ``"dataloader"`` or a reproducible ``"sampler"``).

        Example:
            >>> engine = Engine(lambda engine, batch: None)
            >>> engine.run([0, 1, 2], max_epochs=2).iteration
            6
            >>> engine.state_dict()
            {'epoch_length': 3, 'iteration': 6, 'max_epochs': 2, 'data_length': 3}
        """
        state = self.state
        limit = "max_iters" if state.max_iters is not None else "max_epochs"
        keys = ["epoch_length", "iteration", limit, *self.state_dict_user_keys]
        saved = {key: getattr(state, key) for key in keys}
        failed = int(self._iteration_failed)  # saved from EXCEPTION_RAISED: the failed iteration runs again
        iteration, epoch_iteration = state.iteration - failed, self._epoch_iteration - failed
        saved["iteration"] = iteration
        completed = state.epoch - 1 if self._epoch_in_progress else state.epoch
        length = state.epoch_length
        derived = divmod(iteration, length) if length else (0, iteration)
        if (completed, epoch_iteration) != derived or self._data_origin:
            # not derivable from the iteration count (after terminate_epoch or set_data)
            saved["position"] = [completed, epoch_iteration, self._data_origin]
        if state.metrics:  # a resumed run starts with the values a never-stopped one would hold
            saved["metrics"] = dict(state.metrics)
        if state.dataloader is None:  # loaded but not run yet: what the checkpoint said of its data still holds
            return {**saved, **self._saved_data_state}
        return {**saved, **data_states(state.dataloader)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a run position saved by :meth:`state_dict`; the next :meth:`run` continues from it.

        Called from a ``STARTED`` handler (as Ignite's and MONAI's resume handlers do), it moves the run that
        is starting: its first iteration is the one after the loaded position, with the data positioned there.
        From any other handler of a running engine it is an error.

        ``state_dict`` holds ``epoch_length``, one of ``iteration``/``epoch``, one of
        ``max_epochs``/``max_iters``, and every key in ``engine.state_dict_user_keys``; missing,
        conflicting, unknown or out-of-range values raise ``ValueError`` before anything changes.
        The next ``run(data)`` continues at the saved iteration, positioning ``data`` there.

        Example:
            >>> engine = Engine(lambda engine, batch: None)
            >>> engine.load_state_dict({"epoch_length": 3, "iteration": 4, "max_epochs": 2})
            >>> engine.state.epoch, engine.run([0, 1, 2]).iteration
            (1, 6)
        """
        if self._running and not self._starting:
            raise RuntimeError(
                "load_state_dict() was called from a handler while the engine runs: load a state before run(), "
                "or from a STARTED handler (the run then continues from the loaded position), not mid-run."
            )
        position = validate_state_dict(state_dict, self.state_dict_user_keys, self._optional_state_keys)
        if not isinstance(state_dict.get("metrics", {}), Mapping):
            raise ValueError(
                f"state_dict['metrics'] should be a mapping of metric names to values (what state_dict() saves), "
                f"got {type(state_dict['metrics']).__name__}."
            )
        saved_data = {k: state_dict[k] for k in ("data_length", "dataloader", "sampler") if k in state_dict}
        if self._starting and self.state.dataloader is not None:
            check_saved_data(self.state.dataloader, saved_data)  # the run's data must fit the loaded position
        state = self.state
        state.epoch_length, state.iteration = position["epoch_length"], position["iteration"] or 0
        state.max_iters = position["max_iters"]
        state.max_epochs = position["max_epochs"]
        state.epoch = position["completed_epochs"] or 0
        for key in self.state_dict_user_keys:
            setattr(state, key, state_dict[key])
        state.metrics = dict(state_dict.get("metrics", {}))
        if self._run_gen is not None and not self._starting:  # a paused run does not continue: the next run() moves on
            self._run_gen.close()
            self._run_gen = None
        self._data_iter = None
        if position["max_epochs"] is None and position["max_iters"] is None and not self._starting:
            state.dataloader = None  # the state of an engine that never ran: no data of an earlier run remains
        self._saved_data_state = saved_data
        self._epoch_iteration = position["epoch_iteration"] or 0
        self._data_origin = position["data_origin"] or 0
        self._epoch_in_progress = False
        if self._starting:  # the run goes on from here: its first epoch may be one that had begun
            self._resuming_epoch = self._epoch_iteration > 0

    #: Keys a subclass may add to :meth:`state_dict` beyond the run position and user keys.
    _optional_state_keys: frozenset[str] = frozenset({"data_length", "dataloader", "sampler", "metrics"})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(process_function={describe(self._process_function)})"
