"""The engine's run loop, control, handlers and serialisation, driven as a user would."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence import Engine, EventEnum, Events, State

ALL_EVENTS = [e for e in Events if e not in (Events.EXCEPTION_RAISED, Events.TERMINATE_SINGLE_EPOCH)]


def record_events(engine: Engine[Any], events: list[Events] = ALL_EVENTS) -> list[tuple[str, int, int]]:
    log: list[tuple[str, int, int]] = []
    for event in events:
        engine.add_event_handler(event, lambda e, name=event.name: log.append((name, e.state.epoch, e.state.iteration)))
    return log


def collect_batches(engine: Engine[Any]) -> list[Any]:
    seen: list[Any] = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.batch))
    return seen


# ---------------------------------------------------------------- the loop
def test_events_fire_in_order_with_counters() -> None:
    engine = Engine(lambda e, b: b)
    log = record_events(engine)
    state = engine.run([10, 20], max_epochs=2)
    assert state.iteration == 4 and state.epoch == 2 and state.output == 20
    assert log == [
        ("STARTED", 0, 0),
        ("EPOCH_STARTED", 1, 0),
        ("GET_BATCH_STARTED", 1, 0),
        ("GET_BATCH_COMPLETED", 1, 0),
        ("ITERATION_STARTED", 1, 1),
        ("ITERATION_COMPLETED", 1, 1),
        ("GET_BATCH_STARTED", 1, 1),
        ("GET_BATCH_COMPLETED", 1, 1),
        ("ITERATION_STARTED", 1, 2),
        ("ITERATION_COMPLETED", 1, 2),
        ("EPOCH_COMPLETED", 1, 2),
        ("EPOCH_STARTED", 2, 2),
        ("GET_BATCH_STARTED", 2, 2),
        ("DATALOADER_STOP_ITERATION", 2, 2),
        ("GET_BATCH_COMPLETED", 2, 2),
        ("ITERATION_STARTED", 2, 3),
        ("ITERATION_COMPLETED", 2, 3),
        ("GET_BATCH_STARTED", 2, 3),
        ("GET_BATCH_COMPLETED", 2, 3),
        ("ITERATION_STARTED", 2, 4),
        ("ITERATION_COMPLETED", 2, 4),
        ("EPOCH_COMPLETED", 2, 4),
        ("COMPLETED", 2, 4),
    ]


FILTERS: list[dict[str, Any] | None] = [
    None,
    {"every": 2},
    {"every": 3},
    {"once": 4},
    {"once": [1, 3, 7]},
    {"before": 5},
    {"after": 2},
    {"every": 2, "after": 1},
    {"every": 3, "after": 4},
    {"every": 3, "before": 10},
    {"event_filter": lambda engine, counter: counter % 3 == 1},
]


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 6),
    max_epochs=st.integers(1, 4),
    epoch_length=st.one_of(st.none(), st.integers(1, 9)),
    event_filter=st.sampled_from(FILTERS),
    no_data=st.booleans(),
)
def test_event_sequence_matches_ignite(
    length: int, max_epochs: int, epoch_length: int | None, event_filter: dict[str, Any] | None, no_data: bool
) -> None:
    """Counters, outputs and batches seen by every handler are Ignite's, for any data size, limits and filter."""
    ignite_engine = pytest.importorskip("ignite.engine")
    if no_data and epoch_length is None:
        epoch_length = length

    def trace(engine_cls: Any, events_cls: Any) -> list[tuple[Any, ...]]:
        engine = engine_cls(lambda e, b: (b, e.state.iteration))
        log: list[tuple[Any, ...]] = []
        for name in [e.name for e in ALL_EVENTS]:
            event = getattr(events_cls, name)
            if event_filter and name in ("ITERATION_STARTED", "ITERATION_COMPLETED", "EPOCH_COMPLETED"):
                event = event(**event_filter)
            engine.add_event_handler(
                event,
                lambda e, n=name: log.append((n, e.state.epoch, e.state.iteration, e.state.output, e.state.batch)),
            )
        engine.run(None if no_data else list(range(length)), max_epochs=max_epochs, epoch_length=epoch_length)
        return log

    assert trace(Engine, Events) == trace(ignite_engine.Engine, ignite_engine.Events)


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 6),
    max_epochs=st.integers(1, 4),
    epoch_length=st.one_of(st.none(), st.integers(1, 9)),
    control=st.sampled_from(["interrupt", "terminate_epoch"]),
    event_name=st.sampled_from(
        ["GET_BATCH_STARTED", "GET_BATCH_COMPLETED", "ITERATION_STARTED", "ITERATION_COMPLETED"]
    ),
    stops=st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True),
)
def test_interrupt_and_terminate_epoch_match_ignite(
    length: int, max_epochs: int, epoch_length: int | None, control: str, event_name: str, stops: list[int]
) -> None:
    ignite_engine = pytest.importorskip("ignite.engine")

    def trace(engine_cls: Any, events_cls: Any) -> list[tuple[Any, ...]]:
        engine = engine_cls(lambda e, b: (b, e.state.iteration))
        log: list[tuple[Any, ...]] = []
        for name in [e.name for e in ALL_EVENTS]:
            engine.add_event_handler(
                getattr(events_cls, name),
                lambda e, n=name: log.append((n, e.state.epoch, e.state.iteration, e.state.output, e.state.batch)),
            )
        engine.add_event_handler(
            events_cls.TERMINATE_SINGLE_EPOCH,
            lambda e, iter_counter: log.append(("TSE", e.state.iteration, iter_counter)),
        )
        engine.add_event_handler(getattr(events_cls, event_name)(once=stops), lambda e: getattr(e, control)())
        data = list(range(length))
        for _ in range(len(stops) + 1):  # an interrupted run is resumed by calling run() again
            engine.run(data, max_epochs=max_epochs, epoch_length=epoch_length)
            if log[-1][0] == "COMPLETED":
                break
        return log

    assert trace(Engine, Events) == trace(ignite_engine.Engine, ignite_engine.Events)


def test_iterator_continues_across_epochs_and_is_recreated_when_exhausted() -> None:
    engine = Engine(lambda e, b: b)
    seen = collect_batches(engine)
    stops = record_events(engine, [Events.DATALOADER_STOP_ITERATION])
    engine.run([0, 1, 2, 3, 4], max_epochs=3, epoch_length=2)
    assert seen == [0, 1, 2, 3, 4, 0]
    assert stops == [("DATALOADER_STOP_ITERATION", 3, 5)]


def test_data_of_unknown_length_fixes_epoch_length_at_first_exhaustion() -> None:
    class Stream:
        def __iter__(self) -> Iterator[int]:
            return iter(range(3))

    engine = Engine(lambda e, b: b)
    seen = collect_batches(engine)
    state = engine.run(Stream(), max_epochs=2)
    assert state.epoch_length == 3 and state.iteration == 6 and seen == [0, 1, 2, 0, 1, 2]


def test_unknown_length_with_max_iters_learns_epoch_length() -> None:
    engine = Engine(lambda e, b: b)
    state = engine.run((i for i in range(100)), max_iters=5, epoch_length=None)
    assert state.iteration == 5 and state.epoch_length is None
    engine = Engine(lambda e, b: b)

    class Stream:
        def __iter__(self) -> Iterator[int]:
            return iter(range(4))

    state = engine.run(Stream(), max_iters=10)
    assert state.iteration == 10 and state.epoch_length == 4 and state.max_epochs == 3  # learned, as Ignite


def test_one_shot_generator_ends_the_run_with_a_warning() -> None:
    engine = Engine(lambda e, b: b)
    log = record_events(engine, [Events.EPOCH_COMPLETED, Events.COMPLETED])
    with pytest.warns(UserWarning, match="Data iterator can not provide data anymore"):
        state = engine.run((i for i in range(3)), max_epochs=3)
    assert state.iteration == 3
    assert log == [("EPOCH_COMPLETED", 1, 3), ("COMPLETED", 2, 3)]


def test_data_none_with_epoch_length_runs_without_batches() -> None:
    engine = Engine(lambda e, b: (b, e.state.iteration))
    log = record_events(engine, [Events.GET_BATCH_STARTED, Events.GET_BATCH_COMPLETED])
    state = engine.run(None, max_epochs=2, epoch_length=3)
    assert state.iteration == 6 and state.output == (None, 6) and log == []


def test_max_iters_stops_mid_epoch() -> None:
    engine = Engine(lambda e, b: b)
    log = record_events(engine, [Events.EPOCH_COMPLETED, Events.COMPLETED, Events.TERMINATE])
    state = engine.run(range(4), max_iters=6)
    assert state.iteration == 6 and state.epoch == 2 and state.max_epochs is None
    # As Ignite: the limit cuts the second epoch short, which is not completed.
    assert log == [("EPOCH_COMPLETED", 1, 4), ("TERMINATE", 2, 6), ("COMPLETED", 2, 6)]


def test_output_is_reset_after_each_batch_fetch() -> None:
    engine = Engine(lambda e, b: b + 100)
    outputs: list[Any] = []
    engine.add_event_handler(Events.GET_BATCH_COMPLETED, lambda e: outputs.append(e.state.output))
    engine.run([1, 2])
    assert outputs == [None, None]


def test_times_are_recorded_for_epochs_and_run() -> None:
    state = Engine(lambda e, b: b).run([1, 2], max_epochs=2)
    assert state.times["EPOCH_COMPLETED"] is not None and state.times["COMPLETED"] is not None
    assert 0 <= state.times["EPOCH_COMPLETED"] <= state.times["COMPLETED"]


# ---------------------------------------------------------------- repeated runs
def test_finished_run_restarts_fresh_but_keeps_user_state() -> None:
    engine = Engine(lambda e, b: b)
    engine.run([1, 2], max_epochs=2)
    engine.state.best = 0.5
    engine.state.metrics["acc"] = 1.0
    state = engine.run([1, 2, 3], max_epochs=2)
    assert (state.iteration, state.epoch, state.epoch_length) == (6, 2, 3)
    assert state.best == 0.5 and state.metrics == {"acc": 1.0}


def test_raising_max_epochs_extends_a_finished_run() -> None:
    data = [1, 2, 3]
    engine = Engine(lambda e, b: b)
    engine.run(data, max_epochs=2)
    state = engine.run(data, max_epochs=4)
    assert (state.epoch, state.iteration) == (4, 12)


def test_max_epochs_none_forces_a_fresh_start() -> None:
    engine = Engine(lambda e, b: b)
    handle = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
    engine.run([1, 2, 3], max_epochs=2)
    handle.remove()
    engine.state.max_epochs = None
    assert engine.run([1, 2, 3], max_epochs=1).iteration == 3


def test_continuing_run_checks_epoch_length_and_limits() -> None:
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.EPOCH_COMPLETED(once=2), lambda e: e.terminate())
    engine.run([1, 2, 3], max_epochs=5)
    with pytest.raises(ValueError, match="epoch_length should be same as in the state, but given 2 vs 3"):
        engine.run([1, 2, 3], epoch_length=2)
    with pytest.raises(ValueError, match="greater than or equal to the start epoch"):
        engine.run([1, 2, 3], max_epochs=1)
    with pytest.raises(ValueError, match="To switch from max_epochs to max_iters mode"):
        engine.run([1, 2, 3], max_iters=100)
    assert engine.run([1, 2, 3], max_epochs=3).iteration == 9


# ---------------------------------------------------------------- control
def test_terminate_fires_terminate_then_completed_and_resume_continues_next_iteration() -> None:
    data = [0, 1, 2, 3]
    engine = Engine(lambda e, b: b)
    seen = collect_batches(engine)
    log = record_events(engine, [Events.STARTED, Events.EPOCH_STARTED, Events.TERMINATE, Events.COMPLETED])
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.terminate())
    state = engine.run(data, max_epochs=3)
    assert state.iteration == 6 and log[-2:] == [("TERMINATE", 2, 6), ("COMPLETED", 2, 6)]
    log.clear()
    state = engine.run(data, max_epochs=3)
    assert state.iteration == 12 and seen == [0, 1, 2, 3] * 3
    assert log == [("STARTED", 1, 6), ("EPOCH_STARTED", 2, 6), ("EPOCH_STARTED", 3, 8), ("COMPLETED", 3, 12)]


def test_terminate_skip_completed() -> None:
    engine = Engine(lambda e, b: e.terminate(skip_completed=True))
    log = record_events(engine, [Events.TERMINATE, Events.COMPLETED])
    engine.run([1, 2])
    assert log == [("TERMINATE", 1, 1)]
    assert engine.should_terminate == "skip_completed"  # as Ignite: tells how the last run ended


@pytest.mark.parametrize("skip", [False, True])
def test_terminate_epoch_ends_the_epoch_and_the_run_goes_on(skip: bool) -> None:
    engine = Engine(lambda e, b: b)
    seen = collect_batches(engine)
    counters: list[int] = []
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e, iter_counter: counters.append(iter_counter))
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e: counters.append(-1))
    epochs = record_events(engine, [Events.EPOCH_COMPLETED])
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate_epoch(skip))
    state = engine.run([0, 1, 2], max_epochs=2)
    assert seen == [0, 1, 0, 1, 2] and state.iteration == 5 and state.epoch == 2
    assert counters == [2, -1]
    assert epochs == ([] if skip else [("EPOCH_COMPLETED", 1, 2)]) + [("EPOCH_COMPLETED", 2, 5)]


@pytest.mark.parametrize("event", [Events.STARTED, Events.EPOCH_STARTED])
def test_terminate_epoch_outside_iterations_is_an_error(event: Events) -> None:
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(event, lambda e: e.terminate_epoch())
    with pytest.raises(RuntimeError, match="terminate_epoch"):
        engine.run([1])


@settings(max_examples=30, deadline=None)
@given(stops=st.lists(st.integers(1, 24), min_size=1, max_size=4, unique=True))
def test_interrupt_anywhere_gives_the_same_batches_and_events(stops: list[int]) -> None:
    data = list(range(5))

    def run(interrupt_at: list[int]) -> tuple[list[Any], list[tuple[str, int, int]], int]:
        engine = Engine(lambda e, b: b)
        seen = collect_batches(engine)
        log = record_events(engine, [Events.STARTED, Events.EPOCH_STARTED, Events.EPOCH_COMPLETED, Events.COMPLETED])
        if interrupt_at:
            engine.add_event_handler(Events.ITERATION_COMPLETED(once=interrupt_at), lambda e: e.interrupt())
        interrupts = record_events(engine, [Events.INTERRUPT])
        runs = 0
        while runs == 0 or not (log and log[-1][0] == "COMPLETED"):
            engine.run(data, max_epochs=5, epoch_length=5)
            runs += 1
        assert [i for _, _, i in interrupts] == sorted(s for s in interrupt_at if s <= 25)
        return seen, log, runs

    baseline = run([])
    interrupted = run(stops)
    assert interrupted[:2] == baseline[:2]
    assert interrupted[2] == 1 + len([s for s in stops if s <= 25])


def test_interrupt_from_epoch_started_resumes_that_epoch() -> None:
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.EPOCH_STARTED(once=2), lambda e: e.interrupt())
    seen = collect_batches(engine)
    assert engine.run([1, 2], max_epochs=3).iteration == 2
    assert engine.should_interrupt is False
    assert engine.run([1, 2], max_epochs=3).iteration == 6 and seen == [1, 2] * 3


# ---------------------------------------------------------------- exceptions
def test_exception_propagates_without_handlers_and_engine_stays_usable() -> None:
    fail = {"at": 3}

    def step(engine: Engine[Any], batch: int) -> int:
        if engine.state.iteration == fail["at"]:
            raise ZeroDivisionError("boom")
        return batch

    engine = Engine(step)
    with pytest.raises(ZeroDivisionError, match="boom"):
        engine.run([0, 1, 2, 3], max_epochs=2)
    assert engine.state.iteration == 2  # the failed iteration is not counted: it runs again
    fail["at"] = -1
    state = engine.run([0, 1, 2, 3], max_epochs=2)
    assert state is engine.state and state.iteration == 8 and state.epoch == 2


def test_exception_raised_handlers_get_the_exception_and_may_swallow_it() -> None:
    engine = Engine(lambda e, b: 1 / b)
    caught: list[BaseException] = []
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: caught.append(exc))
    state = engine.run([1, 0, 2])
    assert isinstance(state, State) and len(caught) == 1 and isinstance(caught[0], ZeroDivisionError)


def test_exception_handler_may_reraise() -> None:
    engine = Engine(lambda e, b: 1 / b)

    def reraise(engine: Engine[Any], exc: BaseException) -> None:
        raise RuntimeError("wrapped") from exc

    engine.add_event_handler(Events.EXCEPTION_RAISED, reraise)
    with pytest.raises(RuntimeError, match="wrapped"):
        engine.run([0])


def test_handler_that_raises_in_epoch_completed_does_not_redo_the_epoch() -> None:
    engine = Engine(lambda e, b: b)
    seen = collect_batches(engine)
    calls = {"n": 0}

    def flaky(engine: Engine[Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")

    engine.add_event_handler(Events.EPOCH_COMPLETED, flaky)
    with pytest.raises(OSError):
        engine.run([1, 2], max_epochs=2)
    assert engine.run([1, 2], max_epochs=2).iteration == 4 and seen == [1, 2, 1, 2]


# ---------------------------------------------------------------- handlers
def test_handlers_run_in_the_order_they_were_added_with_args() -> None:
    engine = Engine(lambda e, b: b)
    calls: list[Any] = []
    engine.add_event_handler(Events.STARTED, lambda e, x, y=0: calls.append((e, x, y)), 1, y=2)
    engine.add_event_handler(Events.STARTED, lambda x: calls.append(x), "no engine")
    engine.add_event_handler(Events.STARTED, lambda: calls.append("nothing"))
    engine.run([1])
    assert calls == [(engine, 1, 2), "no engine", "nothing"]


def test_wrong_handler_signature_is_refused_at_attach_time() -> None:
    engine = Engine(lambda e, b: b)

    def needs_two(a: int, b: int) -> None: ...

    with pytest.raises(TypeError, match=r"needs_two to ITERATION_COMPLETED.*but will be called with \(engine\)"):
        engine.add_event_handler(Events.ITERATION_COMPLETED, needs_two)
    with pytest.raises(TypeError, match="must be callable"):
        engine.add_event_handler(Events.STARTED, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="<event arg>"):
        engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc, extra: None)


@pytest.mark.parametrize("bad", [lambda: None, lambda batch: None, lambda e, b, c: None, 42])
def test_wrong_process_function_is_refused_at_construction(bad: Any) -> None:
    with pytest.raises(TypeError, match="process_function"):
        Engine(bad)


def test_has_and_remove_event_handler() -> None:
    engine = Engine(lambda e, b: b)

    def handler(engine: Engine[Any]) -> None: ...

    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), handler)
    assert engine.has_event_handler(handler)
    assert engine.has_event_handler(handler, Events.ITERATION_COMPLETED)
    assert not engine.has_event_handler(handler, Events.EPOCH_COMPLETED)
    engine.remove_event_handler(handler, Events.ITERATION_COMPLETED)
    assert not engine.has_event_handler(handler)
    with pytest.raises(ValueError, match="is not attached"):
        engine.remove_event_handler(handler, Events.ITERATION_COMPLETED)


def test_removable_handle_removes_only_its_attachment_and_is_idempotent() -> None:
    engine = Engine(lambda e, b: b)
    calls: list[str] = []

    def handler(engine: Engine[Any], tag: str) -> None:
        calls.append(tag)

    first = engine.add_event_handler(Events.STARTED | Events.COMPLETED, handler, "a")
    engine.add_event_handler(Events.STARTED, handler, "b")
    first.remove()
    first.remove()
    engine.run([1])
    assert calls == ["b"]


def test_handler_added_or_removed_during_the_run_takes_effect_immediately() -> None:
    engine = Engine(lambda e, b: b)
    seen: list[int] = []
    handle_box: list[Any] = []

    def add_later(engine: Engine[Any]) -> None:
        handle_box.append(
            engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.iteration))
        )

    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), add_later)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=4), lambda e: handle_box[0].remove())
    engine.run(range(6))
    assert seen == [3, 4]


def test_extra_fire_kwargs_do_not_mutate_stored_kwargs() -> None:
    engine = Engine(lambda e, b: e.terminate_epoch())
    stored = {"tag": "x"}
    got: list[dict[str, Any]] = []
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e, **kw: got.append(kw), **stored)
    engine.run([1, 2], max_epochs=2)
    assert got == [{"tag": "x", "iter_counter": 1}] * 2 and stored == {"tag": "x"}


def test_engine_is_not_kept_alive_by_its_handlers() -> None:
    class Tracker:
        def on_epoch(self, engine: Engine[Any]) -> None: ...

    engine = Engine(lambda e, b: b)
    tracker = Tracker()
    engine.add_event_handler(Events.EPOCH_COMPLETED, tracker.on_epoch)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), lambda e, x: None, 1)
    engine.add_event_handler(Events.COMPLETED, engine.terminate)
    handle = engine.add_event_handler(Events.STARTED, print)
    engine.run([1, 2, 3], max_epochs=2)
    ref = weakref.ref(engine)
    gc.disable()
    try:
        del engine
        assert ref() is None
    finally:
        gc.enable()
    handle.remove()  # a handle of a collected engine is harmless


# ---------------------------------------------------------------- custom events
class BackpropEvents(EventEnum):
    BACKWARD_STARTED = "backward_started"
    OPTIMIZER_STEP = "optimizer_step"


def test_custom_events_fire_with_their_own_counter() -> None:
    def step(engine: Engine[Any], batch: Any) -> None:
        engine.fire_event(BackpropEvents.BACKWARD_STARTED)
        engine.state.optimizer_steps += 1
        engine.fire_event(BackpropEvents.OPTIMIZER_STEP)

    engine = Engine(step)
    engine.register_events(*BackpropEvents, event_to_attr={BackpropEvents.OPTIMIZER_STEP: "optimizer_steps"})
    engine.state.optimizer_steps = 0
    seen: list[int] = []
    engine.add_event_handler(BackpropEvents.OPTIMIZER_STEP(every=3), lambda e: seen.append(e.state.optimizer_steps))
    engine.run(range(10))
    assert seen == [3, 6, 9]
    assert engine.state.get_event_attrib_value(BackpropEvents.OPTIMIZER_STEP) == 10


def test_registering_events_does_not_change_other_engines() -> None:
    first, second = Engine(lambda e, b: b), Engine(lambda e, b: b)
    first.register_events("my_event", event_to_attr={"my_event": "iteration"})
    assert first.has_registered_events("my_event") and not second.has_registered_events("my_event")
    with pytest.raises(ValueError, match="not a valid event for this Engine"):
        second.add_event_handler("my_event", lambda: None)
    with pytest.raises(KeyError, match="no state counter"):
        second.state.get_event_attrib_value("my_event")
    assert first.state.get_event_attrib_value("my_event") == 0


def test_one_mapping_for_events_registered_one_at_a_time_applies_each_entry_with_its_event() -> None:
    """As in Ignite (and MONAI's Workflow): entries for events not registered yet are ignored until their call."""
    engine = Engine(lambda e, b: b)
    mapping = {BackpropEvents.BACKWARD_STARTED: "backwards", BackpropEvents.OPTIMIZER_STEP: "optimizer_steps"}
    engine.register_events(BackpropEvents.BACKWARD_STARTED, event_to_attr=mapping)
    assert engine.state.backwards == 0 and not hasattr(engine.state, "optimizer_steps")
    assert not engine.has_registered_events(BackpropEvents.OPTIMIZER_STEP)
    engine.register_events(BackpropEvents.OPTIMIZER_STEP, event_to_attr=mapping)
    assert engine.state.get_event_attrib_value(BackpropEvents.OPTIMIZER_STEP) == 0


def test_register_events_errors() -> None:
    engine = Engine(lambda e, b: b)
    with pytest.raises(TypeError, match="should be a str or EventEnum"):
        engine.register_events(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attribute names"):
        engine.register_events("a", event_to_attr={"a": "not an attribute"})
    with pytest.raises(ValueError, match="filtered"):
        engine.register_events(BackpropEvents.OPTIMIZER_STEP(every=2))
    engine.register_events(BackpropEvents)
    with pytest.raises(ValueError, match="no state counter"):
        engine.add_event_handler(BackpropEvents.OPTIMIZER_STEP(every=2), lambda: None)
    with pytest.raises(ValueError, match="not a valid event for this Engine"):
        engine.fire_event("never_registered")
    with pytest.raises(TypeError, match="Expected an event"):
        engine.add_event_handler(3, lambda: None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- bad input to run
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data": [1], "max_epochs": 0}, ValueError, "max_epochs must be a positive integer"),
        ({"data": [1], "epoch_length": -1}, ValueError, "epoch_length must be a positive integer"),
        ({"data": [1], "max_iters": 0}, ValueError, "max_iters must be a positive integer"),
        ({"data": [1], "max_epochs": 2, "max_iters": 3}, ValueError, "mutually exclusive"),
        ({"data": 5}, TypeError, "data should be iterable"),
        ({"data": []}, ValueError, "Input data has zero size"),
        ({"data": None}, ValueError, "epoch_length should be provided if data is None"),
    ],
)
def test_bad_run_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Engine(lambda e, b: b).run(**kwargs)


def test_empty_iterable_of_unknown_length_is_reported() -> None:
    with pytest.raises(ValueError, match="no batch"):
        Engine(lambda e, b: b).run(iter([]))


def test_run_from_a_handler_is_refused() -> None:
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.STARTED, lambda e: e.run([1]))
    with pytest.raises(RuntimeError, match="own handlers"):
        engine.run([1])


# ---------------------------------------------------------------- state_dict
def test_state_dict_round_trip_resumes_mid_epoch() -> None:
    data = list(range(4))
    engine = Engine(lambda e, b: b)
    engine.state_dict_user_keys.append("alpha")
    engine.state.alpha = 0.3
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.interrupt())
    engine.run(data, max_epochs=3)
    saved = engine.state_dict()
    assert saved == {"epoch_length": 4, "iteration": 6, "max_epochs": 3, "alpha": 0.3, "data_length": 4}

    resumed = Engine(lambda e, b: b)
    resumed.state_dict_user_keys.append("alpha")
    resumed.load_state_dict(saved)
    assert (resumed.state.epoch, resumed.state.iteration, resumed.state.alpha) == (1, 6, 0.3)
    log = record_events(resumed, [Events.EPOCH_STARTED, Events.EPOCH_COMPLETED])
    state = resumed.run(data)
    assert state.iteration == 12
    assert log[0] == ("EPOCH_STARTED", 2, 6) and log[1] == ("EPOCH_COMPLETED", 2, 8)


def test_load_state_dict_with_epoch_and_max_iters() -> None:
    engine = Engine(lambda e, b: b)
    engine.load_state_dict({"epoch_length": 5, "epoch": 2, "max_iters": 12})
    assert (engine.state.iteration, engine.state.max_epochs) == (10, None)  # one limit per run, as Ignite
    assert engine.run(range(5)).iteration == 12


@pytest.mark.parametrize(
    ("state_dict", "match"),
    [
        ({"iteration": 1, "max_epochs": 2}, "Required state attribute 'epoch_length' is absent"),
        ({"epoch_length": 2, "max_epochs": 2}, "Required state attribute 'iteration' is absent"),
        ({"epoch_length": 2, "iteration": 1, "epoch": 1, "max_epochs": 2}, "only one of 'iteration' or 'epoch'"),
        ({"epoch_length": 2, "iteration": 1}, r"exactly one of '\('max_epochs', 'max_iters'\)'"),
        ({"epoch_length": 2, "iteration": 1, "max_epochs": 2, "extra": 0}, "unknown keys"),
        ({"epoch_length": 0, "iteration": 1, "max_epochs": 2}, "epoch_length must be"),
        ({"epoch_length": 2, "iteration": -1, "max_epochs": 2}, "iteration must be"),
        ({"epoch_length": 2, "iteration": 9, "max_epochs": 2}, "greater than or equal to the start epoch"),
    ],
)
def test_bad_state_dicts_are_refused_and_change_nothing(state_dict: dict[str, Any], match: str) -> None:
    engine = Engine(lambda e, b: b)
    engine.run([1, 2])
    before = engine.state_dict()
    with pytest.raises(ValueError, match=match):
        engine.load_state_dict(state_dict)
    assert engine.state_dict() == before
    with pytest.raises(TypeError, match="mapping"):
        engine.load_state_dict([1, 2])  # type: ignore[arg-type]


def test_user_keys_are_required_on_load() -> None:
    engine = Engine(lambda e, b: b)
    engine.state_dict_user_keys.append("alpha")
    with pytest.raises(ValueError, match=r"Required user state attribute 'alpha' is absent"):
        engine.load_state_dict({"epoch_length": 2, "iteration": 0, "max_epochs": 1})


def test_set_data_swaps_the_source_mid_run() -> None:
    engine = Engine(lambda e, b: b)
    seen = collect_batches(engine)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.set_data([10, 20, 30]))
    state = engine.run([1, 2, 3], max_epochs=2)
    assert seen == [1, 2, 10, 20, 30, 10] and state.epoch_length == 3
    with pytest.raises(TypeError, match="iterable"):
        engine.set_data(3)  # type: ignore[arg-type]


def test_state_repr_and_user_attributes() -> None:
    state = State(alpha=1)
    state.output = 2
    text = repr(state)
    assert "alpha: 1" in text and "output: 2" in text and "event_to_attr" not in text
    assert "lambda" in repr(Engine(lambda e, b: b))


def test_last_event_name_is_exact_inside_handlers() -> None:
    engine = Engine(lambda e, b: b)
    engine.register_events(BackpropEvents.OPTIMIZER_STEP)
    seen: list[Any] = []
    for event in (Events.STARTED, Events.ITERATION_COMPLETED, Events.EPOCH_COMPLETED, BackpropEvents.OPTIMIZER_STEP):
        engine.add_event_handler(event, lambda e: seen.append(e.last_event_name))
    engine.add_event_handler(Events.COMPLETED, lambda e: e.fire_event(BackpropEvents.OPTIMIZER_STEP))
    engine.run([1])
    assert seen == [Events.STARTED, Events.ITERATION_COMPLETED, Events.EPOCH_COMPLETED, BackpropEvents.OPTIMIZER_STEP]


def test_refused_registration_registers_nothing() -> None:
    engine = Engine(lambda e, b: b)
    with pytest.raises(ValueError, match="attribute names"):
        engine.register_events("new_event", event_to_attr={"new_event": "1bad"})
    assert not engine.has_registered_events("new_event")


def test_wrap_handlers_wraps_existing_and_future_handlers_but_lookups_use_originals() -> None:
    engine = Engine(lambda e, b: b)
    calls: list[str] = []

    def before(engine: Engine[Any]) -> None:
        calls.append("before")

    engine.add_event_handler(Events.EPOCH_COMPLETED, before)
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e, iter_counter: calls.append(f"tse{iter_counter}"))

    def wrapper(event: Any, handler: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"<{event if isinstance(event, str) else event.name}>")
            return handler(*args, **kwargs)

        return wrapped

    engine.wrap_handlers(wrapper)
    engine.add_event_handler(Events.COMPLETED, lambda: calls.append("after"))
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda e: e.terminate_epoch(True))
    engine.register_events("custom_event")
    engine.add_event_handler("custom_event", lambda: calls.append("custom"))
    engine.add_event_handler(Events.EPOCH_STARTED(once=2), lambda e: e.fire_event("custom_event"))
    engine.run([1, 2], max_epochs=2)
    assert calls == [
        "<ITERATION_COMPLETED>", "<TERMINATE_SINGLE_EPOCH>", "tse1",
        "<EPOCH_STARTED>", "<custom_event>", "custom",
        "<EPOCH_COMPLETED>", "before", "<COMPLETED>", "after",
    ]  # fmt: skip
    assert engine.has_event_handler(before, Events.EPOCH_COMPLETED)
    engine.remove_event_handler(before, Events.EPOCH_COMPLETED)
    with pytest.raises(ValueError, match="already wrapped"):
        engine.wrap_handlers(wrapper)
    with pytest.raises(TypeError, match="callable"):
        Engine(lambda e, b: b).wrap_handlers(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- regressions found in review
def test_interrupted_run_continued_with_a_larger_max_iters_finishes_its_epoch() -> None:
    engine = Engine(lambda e, b: b)
    log = record_events(engine, [Events.EPOCH_COMPLETED, Events.TERMINATE])
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda e: e.interrupt())
    engine.run(list(range(10)), max_iters=5)
    assert engine.run(list(range(10)), max_iters=8).iteration == 8
    assert log == [("TERMINATE", 1, 8)]


def test_interrupted_stream_continued_with_an_epoch_length_ends_its_epochs() -> None:
    class Stream:
        def __iter__(self) -> Iterator[int]:
            return iter(range(4))

    data, engine = Stream(), Engine(lambda e, b: b)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.interrupt())
    engine.run(data, max_epochs=3)
    state = engine.run(data, epoch_length=4)
    assert (state.epoch, state.iteration) == (3, 12)


def test_dataloader_over_an_iterable_dataset_without_len_runs() -> None:
    from torch.utils.data import DataLoader, IterableDataset

    class Numbers(IterableDataset[int]):
        def __iter__(self) -> Iterator[int]:
            return iter(range(6))

    state = Engine(lambda e, b: b).run(DataLoader(Numbers(), batch_size=2), max_epochs=2)
    assert (state.epoch_length, state.iteration) == (3, 6)


def test_state_saved_before_an_unknown_epoch_length_is_known_resumes() -> None:
    class Stream:
        def __iter__(self) -> Iterator[int]:
            return iter(range(5))

    saved: list[dict[str, Any]] = []
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: saved.append(e.state_dict()))
    engine.run(Stream(), max_epochs=2)
    assert saved[0]["epoch_length"] is None
    resumed = Engine(lambda e, b: b)
    seen = collect_batches(resumed)
    resumed.load_state_dict(saved[0])
    with pytest.warns(RuntimeWarning, match="re-reading"):
        state = resumed.run(Stream())
    assert seen == [2, 3, 4, 0, 1, 2, 3, 4] and (state.epoch_length, state.iteration) == (5, 10)


def test_exception_with_a_one_shot_iterator_loses_no_batch_and_retries_the_failed_one() -> None:
    seen: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        seen.append(batch)
        if len(seen) == 3:
            raise RuntimeError("boom")

    engine = Engine(step)
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: None)
    data = iter(range(10))
    engine.run(data, epoch_length=10)
    assert engine.state.iteration == 2
    engine.run(data)
    assert seen == [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9] and engine.state.iteration == 10


def test_a_never_run_engine_state_round_trips() -> None:
    fresh = Engine(lambda e, b: b).state_dict()
    engine = Engine(lambda e, b: b)
    engine.run([1, 2], max_epochs=3)
    engine.load_state_dict(fresh)
    assert engine.state.max_epochs is None and engine.run([1, 2]).iteration == 2  # a fresh run again


def test_terminate_epoch_then_checkpoint_resumes_exactly() -> None:
    def make(seen: list[int]) -> Engine[Any]:
        engine = Engine(lambda e, b: seen.append(b))
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate_epoch())
        return engine

    expected: list[int] = []
    make(expected).run([0, 1, 2], max_epochs=3)
    got: list[int] = []
    first = make(got)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=4), lambda e: e.interrupt())
    first.run([0, 1, 2], max_epochs=3)
    saved = first.state_dict()
    assert saved["position"] == [1, 2, 2]  # 1 epoch done, 2 iterations in, data restarted at iteration 2
    second = Engine(lambda e, b: got.append(b))
    second.load_state_dict(saved)
    second.run([0, 1, 2])
    assert got == expected == [0, 1, 0, 1, 2, 0, 1, 2]


def test_terminate_epoch_after_the_iterations_is_a_no_op() -> None:
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.EPOCH_COMPLETED(once=1), lambda e: e.terminate_epoch())
    state = engine.run([1, 2, 3], max_epochs=2)
    assert (state.epoch, state.iteration) == (2, 6)


@pytest.mark.parametrize("stop_at", range(1, 9))
def test_terminate_epoch_on_a_stream_then_checkpoint_resumes_exactly(stop_at: int) -> None:
    """Epochs of 4 over data of 5: terminate_epoch restarts the data, a resumed run must know where."""

    def make(seen: list[int]) -> Engine[Any]:
        engine = Engine(lambda e, b: seen.append(b))
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate_epoch())
        return engine

    expected: list[int] = []
    make(expected).run(list(range(5)), max_epochs=3, epoch_length=4)
    got: list[int] = []
    first = make(got)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.interrupt())
    first.run(list(range(5)), max_epochs=3, epoch_length=4)
    second = make(got)  # the same handlers in the new process, as a real resume would have
    second.load_state_dict(first.state_dict())
    second.run(list(range(5)))
    assert got == expected


def test_set_data_then_checkpoint_resumes_in_the_new_data() -> None:
    def make(seen: list[int]) -> Engine[Any]:
        engine = Engine(lambda e, b: seen.append(b))
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.set_data([10, 20, 30, 40]))
        return engine

    expected: list[int] = []
    make(expected).run([1, 2, 3, 4], max_epochs=2)
    got: list[int] = []
    first = make(got)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=4), lambda e: e.interrupt())
    first.run([1, 2, 3, 4], max_epochs=2)
    second = Engine(lambda e, b: got.append(b))
    second.load_state_dict(first.state_dict())
    second.run([10, 20, 30, 40])
    assert got == expected == [1, 2, 10, 20, 30, 40, 10, 20]


def test_state_saved_at_an_epochs_last_iteration_still_completes_that_epoch_on_resume() -> None:
    saved: list[dict[str, Any]] = []
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda e: saved.append(e.state_dict()))
    engine.run([0, 1, 2], max_epochs=2)
    assert saved[0]["position"] == [0, 3, 0]  # epoch 1's iterations are done, its EPOCH_COMPLETED is not
    resumed = Engine(lambda e, b: b)
    completed = record_events(resumed, [Events.EPOCH_COMPLETED])
    resumed.load_state_dict(saved[0])
    resumed.run([0, 1, 2])
    assert completed == [("EPOCH_COMPLETED", 1, 3), ("EPOCH_COMPLETED", 2, 6)]


def test_engine_logs_per_run_and_per_epoch_only(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(lambda e, b: b)
    with caplog.at_level(logging.DEBUG, logger=engine.logger.name):
        engine.run(range(5), max_epochs=2)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "Engine run starting with max_epochs=2."
    assert [m.split(" Time")[0] for m in messages[1:]] == [
        "Epoch[1] Complete.",
        "Epoch[2] Complete.",
        "Engine run finished.",
    ]
    assert all(record.levelno == logging.INFO for record in caplog.records)
    caplog.clear()
    failing = Engine(lambda e, b: 1 / 0)
    with caplog.at_level(logging.INFO, logger=failing.logger.name), pytest.raises(ZeroDivisionError):
        failing.run([1])
    assert caplog.records[-1].levelno == logging.ERROR
    assert "terminating due to exception: division by zero" in caplog.records[-1].getMessage()
