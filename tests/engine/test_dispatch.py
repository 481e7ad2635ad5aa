"""Dispatch of a resumed epoch: an EpochResumable's resume_epoch replaces its STARTED/EPOCH_STARTED handlers."""

from __future__ import annotations

from typing import Any

import pytest

from cadence import Engine, Events
from cadence.engine import EpochResumable

DATA = [1, 2, 3, 4]


class EpochLog(EpochResumable):
    """A user's handler: logs each call, and each resume of an epoch, with the epoch it was in."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []

    def __call__(self, engine: Engine[Any]) -> None:
        self.log.append(("call", engine.state.epoch))

    def on_run_started(self, engine: Engine[Any]) -> None:
        self.log.append(("run", engine.state.epoch))

    def resume_epoch(self, engine: Engine[Any]) -> None:
        self.log.append(("resume", engine.state.epoch))


def _stop_once(engine: Engine[Any], how: str, at: int) -> None:
    """Stop the run once, at iteration ``at``, by ``how``."""

    @engine.on(Events.ITERATION_COMPLETED(once=at))
    def stop(engine: Engine[Any]) -> None:
        if how == "terminate":
            engine.terminate()
        else:
            raise RuntimeError("stopped")


def _run_stopped(engine: Engine[Any], how: str, at: int) -> None:
    _stop_once(engine, how, at)
    if how == "exception":
        with pytest.raises(RuntimeError, match="stopped"):
            engine.run(DATA, max_epochs=3)
    else:
        engine.run(DATA, max_epochs=3)


@pytest.mark.parametrize("how", ["terminate", "exception"])
@pytest.mark.parametrize(("at", "epoch"), [(1, 1), (3, 1), (6, 2)])
def test_a_continued_epoch_calls_resume_epoch_instead_and_other_handlers_as_before(
    how: str, at: int, epoch: int
) -> None:
    engine: Engine[Any] = Engine(lambda e, b: None)
    resumable = EpochLog()
    plain: list[tuple[str, int, bool]] = []
    engine.add_event_handler(Events.STARTED, resumable.on_run_started)
    engine.add_event_handler(Events.EPOCH_STARTED, resumable)
    engine.add_event_handler(Events.STARTED, lambda e: plain.append(("run", e.state.epoch, e.resuming_epoch)))
    engine.add_event_handler(Events.EPOCH_STARTED, lambda e: plain.append(("call", e.state.epoch, e.resuming_epoch)))
    _run_stopped(engine, how, at)
    del resumable.log[:], plain[:]
    engine.run(DATA, max_epochs=3)
    # A bound method of an EpochResumable is replaced too; the plain handlers run as in Ignite, and see why.
    assert resumable.log == [("resume", epoch - 1), ("resume", epoch)] + [("call", e) for e in range(epoch + 1, 4)]
    assert plain == [("run", epoch - 1, True), ("call", epoch, True)] + [
        ("call", e, False) for e in range(epoch + 1, 4)
    ]


@pytest.mark.parametrize("at", [2, 5])
def test_a_run_resumed_from_a_mid_epoch_checkpoint_in_a_new_engine_calls_resume_epoch(at: int) -> None:
    saved: dict[str, Any] = {}
    first: Engine[Any] = Engine(lambda e, b: None)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=at), lambda e: saved.update(e.state_dict()))
    first.run(DATA, max_epochs=3)
    resumed: Engine[Any] = Engine(lambda e, b: None)
    resumable = EpochLog()
    resumed.add_event_handler(Events.EPOCH_STARTED, resumable)
    resumed.load_state_dict(saved)
    resumed.run(DATA)
    epoch = (at - 1) // len(DATA) + 1
    assert resumable.log == [("resume", epoch)] + [("call", e) for e in range(epoch + 1, 4)]


def test_a_checkpoint_loaded_by_a_started_handler_resumes_the_handlers_after_it() -> None:
    saved: dict[str, Any] = {}
    first: Engine[Any] = Engine(lambda e, b: None)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: saved.update(e.state_dict()))
    first.run(DATA, max_epochs=3)
    resumed: Engine[Any] = Engine(lambda e, b: None)
    before, after = EpochLog(), EpochLog()
    resumed.add_event_handler(Events.STARTED, before.on_run_started)
    resumed.add_event_handler(Events.STARTED, lambda e: e.load_state_dict(saved))  # as Ignite's resume handlers do
    resumed.add_event_handler(Events.STARTED, after.on_run_started)
    resumed.add_event_handler(Events.EPOCH_STARTED, after)
    resumed.run(DATA, max_epochs=3)
    assert before.log == [("run", 0)]  # it ran before there was anything to resume
    assert after.log == [("resume", 1), ("resume", 2), ("call", 3)]


def test_a_run_that_starts_afresh_or_continues_at_an_epoch_boundary_calls_the_handler() -> None:
    engine: Engine[Any] = Engine(lambda e, b: None)
    resumable = EpochLog()
    engine.add_event_handler(Events.EPOCH_STARTED, resumable)
    engine.add_event_handler(Events.EPOCH_COMPLETED(once=1), lambda e: e.terminate())
    engine.run(DATA, max_epochs=2)
    engine.run(DATA, max_epochs=2)  # epoch 1 had completed: epoch 2 is a new one
    engine.run(DATA)  # the previous run finished: a fresh one starts (and stops after epoch 1 again)
    assert resumable.log == [("call", 1), ("call", 2), ("call", 1)]


@pytest.mark.parametrize(
    "event", [Events.ITERATION_STARTED, Events.ITERATION_COMPLETED, Events.EPOCH_COMPLETED, Events.COMPLETED]
)
def test_handlers_of_other_events_are_called_as_usual_in_a_continued_epoch(event: Events) -> None:
    engine: Engine[Any] = Engine(lambda e, b: None)
    resumable = EpochLog()
    engine.add_event_handler(event, resumable)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
    engine.run(DATA, max_epochs=2)
    engine.run(DATA, max_epochs=2)
    assert resumable.log and all(kind == "call" for kind, _ in resumable.log)


def test_a_filtered_epoch_started_resumes_only_when_its_filter_passes() -> None:
    engine: Engine[Any] = Engine(lambda e, b: None)
    resumable = EpochLog()
    engine.add_event_handler(Events.EPOCH_STARTED(every=2), resumable)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.terminate())
    engine.run(DATA, max_epochs=4)
    engine.run(DATA, max_epochs=4)
    assert resumable.log == [("call", 2), ("resume", 2), ("call", 4)]


def test_the_default_resume_epoch_does_nothing_and_the_handler_can_be_removed_and_found() -> None:
    class Counter(EpochResumable):
        def __init__(self) -> None:
            self.calls = 0

        def __call__(self) -> None:  # a handler that takes no engine: resume_epoch still gets it
            self.calls += 1

    engine: Engine[Any] = Engine(lambda e, b: None)
    counter = Counter()
    handle = engine.add_event_handler(Events.EPOCH_STARTED, counter)
    assert engine.has_event_handler(counter, Events.EPOCH_STARTED)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
    engine.run(DATA, max_epochs=2)
    engine.run(DATA, max_epochs=2)
    assert counter.calls == 2  # epochs 1 and 2, once each
    handle.remove()
    assert not engine.has_event_handler(counter)


def test_a_wrapper_wraps_the_handler_but_not_the_resume_epoch_call() -> None:
    engine: Engine[Any] = Engine(lambda e, b: None)
    resumable = EpochLog()
    wrapped: list[str] = []

    def wrapper(event: Any, handler: Any) -> Any:
        def call(*args: Any) -> Any:
            wrapped.append(event.name)
            return handler(*args)

        return call

    engine.wrap_handlers(wrapper)
    engine.add_event_handler(Events.EPOCH_STARTED, resumable)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
    engine.run(DATA, max_epochs=2)
    engine.run(DATA, max_epochs=2)
    assert resumable.log == [("call", 1), ("resume", 1), ("call", 2)]
    assert wrapped.count("EPOCH_STARTED") == 2


class WrongSignature(EpochResumable):
    def __call__(self, engine: Engine[Any]) -> None:
        pass

    def resume_epoch(self, engine: Engine[Any], extra: int) -> None:  # type: ignore[override]  # on purpose
        pass


class NotCallable(EpochResumable):
    resume_epoch = 3  # type: ignore[assignment]  # on purpose

    def __call__(self, engine: Engine[Any]) -> None:
        pass


@pytest.mark.parametrize("event", [Events.STARTED, Events.EPOCH_STARTED, Events.EPOCH_STARTED(every=2)])
def test_a_resume_epoch_that_cannot_take_the_engine_is_refused_when_attached(event: Any) -> None:
    engine: Engine[Any] = Engine(lambda e, b: None)
    wrong, not_callable = WrongSignature(), NotCallable()
    with pytest.raises(ValueError, match=r"cannot be called as resume_epoch\(engine\)"):
        engine.add_event_handler(event, wrong)
    with pytest.raises(TypeError, match=r"resume_epoch of .*NotCallable.* must be a method callable"):
        engine.add_event_handler(event, not_callable)
    assert not engine.has_event_handler(wrong) and not engine.has_event_handler(not_callable)
    engine.add_event_handler(Events.EPOCH_COMPLETED, wrong)  # other events never call resume_epoch


# The hot loop keeps local copies of the per-iteration events' handlers; a change while running must be seen
# at the very next firing, as Ignite looks its handlers up at each event.
def test_a_handler_attached_by_the_process_function_fires_at_that_iterations_completion() -> None:
    seen: list[tuple[str, int]] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if engine.state.iteration == 2:
            engine.add_event_handler(
                Events.ITERATION_COMPLETED, lambda e: seen.append(("completed", e.state.iteration))
            )
            engine.add_event_handler(Events.ITERATION_STARTED, lambda e: seen.append(("started", e.state.iteration)))
            engine.add_event_handler(Events.GET_BATCH_COMPLETED, lambda e: seen.append(("got", e.state.iteration)))

    Engine(step).run(range(4))
    assert seen == [
        ("completed", 2),
        ("got", 2),
        ("started", 3),
        ("completed", 3),
        ("got", 3),
        ("started", 4),
        ("completed", 4),
    ]


def test_handlers_attached_and_removed_by_handlers_take_effect_at_the_next_firing() -> None:
    engine = Engine(lambda e, b: None)
    calls: list[tuple[str, int]] = []

    def filtered(e: Engine[Any]) -> None:
        calls.append(("every 2", e.state.iteration))

    def plain(e: Engine[Any]) -> None:
        calls.append(("plain", e.state.iteration))
        if e.state.iteration == 2:
            handle.remove()
            e.add_event_handler(Events.ITERATION_COMPLETED(every=2), filtered)

    def second(e: Engine[Any]) -> None:
        calls.append(("second", e.state.iteration))
        if e.state.iteration == 5:
            e.remove_event_handler(filtered, Events.ITERATION_COMPLETED(every=2))

    handle = engine.add_event_handler(Events.ITERATION_COMPLETED, plain)
    engine.add_event_handler(Events.ITERATION_COMPLETED, second)
    engine.run(range(7))
    assert calls == [
        ("plain", 1), ("second", 1),
        ("plain", 2), ("second", 2),  # removed during its own firing: the others of this firing still run
        ("second", 3),
        ("second", 4), ("every 2", 4),
        ("second", 5),
        ("second", 6), ("second", 7),
    ]  # fmt: skip


def test_exception_observers_see_the_error_without_handling_it(caplog: pytest.LogCaptureFixture) -> None:
    def step(engine: Engine[Any], batch: int) -> None:
        if batch == 1:
            raise ValueError("bad batch")

    engine = Engine(step)
    seen: list[str] = []

    def broken(engine: Engine[Any], error: BaseException) -> None:
        raise RuntimeError("observer bug")

    engine.observe_exceptions(broken)
    remove = engine.observe_exceptions(lambda e, error: seen.append(f"{error} at {e.state.iteration}"))
    with pytest.raises(ValueError, match="bad batch"):  # observed, logged for the broken one, still raised
        engine.run(range(3))
    assert seen == ["bad batch at 2"] and "observer bug" in caplog.text
    handled: list[str] = []
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, error: handled.append(str(error)))
    engine.run(range(3))  # a real handler handles it: run() returns, as in Ignite
    assert handled == ["bad batch"] and seen == ["bad batch at 2", "bad batch at 2"]
    remove()
    with pytest.raises(TypeError, match="observer must be callable"):
        engine.observe_exceptions("not callable")  # type: ignore[arg-type]


def test_exception_observers_see_ctrl_c() -> None:
    def step(engine: Engine[Any], batch: int) -> None:
        raise KeyboardInterrupt

    engine = Engine(step)
    seen: list[type[BaseException]] = []
    engine.observe_exceptions(lambda e, error: seen.append(type(error)))
    with pytest.raises(KeyboardInterrupt):
        engine.run(range(3))
    assert seen == [KeyboardInterrupt]
