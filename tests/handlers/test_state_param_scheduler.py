"""State-parameter schedulers: values on engine.state, Ignite's numbers, attach rules, resume, and errors."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import pytest

from cadence import Engine, Events
from cadence.handlers import (
    ExpStateScheduler,
    LambdaStateScheduler,
    MultiStepStateScheduler,
    PiecewiseLinearStateScheduler,
    StateParamScheduler,
    StepStateScheduler,
)

ignite_sps = pytest.importorskip("ignite.handlers.state_param_scheduler")


class Halving:
    """A picklable lambda_obj."""

    def __call__(self, event_index: int) -> float:
        return 1.0 / 2**event_index


CASES: list[tuple[type[StateParamScheduler], dict[str, Any]]] = [
    (PiecewiseLinearStateScheduler, {"milestones_values": [(2, 0.0), (5, 10.0), (9, 4.0)]}),
    (ExpStateScheduler, {"initial_value": 10.0, "gamma": 0.9}),
    (StepStateScheduler, {"initial_value": 10.0, "gamma": 0.5, "step_size": 3}),
    (MultiStepStateScheduler, {"initial_value": 10.0, "gamma": 0.5, "milestones": [2, 5, 6]}),
    (LambdaStateScheduler, {"lambda_obj": Halving()}),
]


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_values_match_ignite(cls: type[StateParamScheduler], kwargs: dict[str, Any]) -> None:
    ours = cls.simulate_values(12, param_name="p", **kwargs)
    theirs = getattr(ignite_sps, cls.__name__).simulate_values(12, param_name="p", **kwargs)
    assert [row[1] for row in ours] == pytest.approx([row[1] for row in theirs])


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_sets_engine_state_and_history(cls: type[StateParamScheduler], kwargs: dict[str, Any]) -> None:
    engine: Engine[None] = Engine(lambda e, b: None)
    seen: list[float] = []
    scheduler = cls(param_name="weight", save_history=True, create_new=True, **kwargs)
    scheduler.attach(engine, Events.EPOCH_COMPLETED)
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(e.state.weight))
    engine.run([0, 0], max_epochs=6)
    expected = [row[1] for row in cls.simulate_values(6, param_name="weight", **kwargs)]
    assert seen == pytest.approx(expected)
    assert engine.state.param_history["weight"] == pytest.approx(expected)


def epoch_values(cls: type[StateParamScheduler], kwargs: dict[str, Any], stop_at: int | None, how: str) -> list[Any]:
    """``engine.state.p`` at each iteration of 4 epochs of 3, the scheduler on EPOCH_STARTED; with ``stop_at``, the
    run stops after that iteration and goes on: in the same engine, or from a checkpoint in a new one."""
    seen: list[Any] = []
    saved: dict[str, Any] = {}

    def trainer() -> tuple[Engine[None], StateParamScheduler]:
        engine: Engine[None] = Engine(lambda e, b: seen.append(e.state.p))
        scheduler = cls(param_name="p", create_new=True, **kwargs)
        scheduler.attach(engine, Events.EPOCH_STARTED)
        return engine, scheduler

    engine, scheduler = trainer()
    if stop_at is not None:

        @engine.on(Events.ITERATION_COMPLETED(once=stop_at))
        def stop(engine: Engine[None]) -> None:
            saved.update(engine=engine.state_dict(), scheduler=pickle.loads(pickle.dumps(scheduler.state_dict())))
            engine.terminate()

    engine.run([0, 1, 2], max_epochs=4)
    if stop_at is not None:
        if how == "checkpoint":  # a new process: engine.state.p is not there until the scheduler sets it again
            engine, scheduler = trainer()
            engine.load_state_dict(saved["engine"])
            scheduler.load_state_dict(saved["scheduler"])
        engine.run([0, 1, 2], max_epochs=4)
    return seen


@pytest.mark.parametrize("how", ["continue", "checkpoint"])
@pytest.mark.parametrize("stop_at", [1, 5, 8])
@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_a_run_continued_mid_epoch_sets_that_epochs_value_again_without_a_step(
    cls: type[StateParamScheduler], kwargs: dict[str, Any], stop_at: int, how: str
) -> None:
    expected = epoch_values(cls, kwargs, None, how)
    assert len(expected) == 12
    assert epoch_values(cls, kwargs, stop_at, how) == pytest.approx(expected)


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
@pytest.mark.parametrize("stop_at", [1, 4])
def test_resume_from_state_dict_continues(cls: type[StateParamScheduler], kwargs: dict[str, Any], stop_at: int) -> None:
    whole = cls(param_name="p", **kwargs)
    engine: Engine[None] = Engine(lambda e, b: None)
    expected = []
    for _ in range(8):
        whole(engine)
        expected.append(engine.state.p)
    first = cls(param_name="p", **kwargs)
    got = []
    for _ in range(stop_at):
        first(engine)
        got.append(engine.state.p)
    second = cls(param_name="p", **kwargs)
    second.load_state_dict(pickle.loads(pickle.dumps(first.state_dict())))
    for _ in range(8 - stop_at):
        second(engine)
        got.append(engine.state.p)
    assert got == pytest.approx(expected)


def test_attach_rules() -> None:
    engine: Engine[None] = Engine(lambda e, b: None)
    engine.state.taken = 1.0
    with pytest.raises(ValueError, match=r"'taken' already exists in the engine\.state"):
        ExpStateScheduler(1.0, 0.5, "taken", create_new=True).attach(engine)
    ExpStateScheduler(1.0, 0.5, "taken").attach(engine)  # an existing attribute is scheduled
    with pytest.warns(UserWarning, match=r"'fresh' is not defined in the engine\.state"):
        ExpStateScheduler(1.0, 0.5, "fresh").attach(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handle = ExpStateScheduler(1.0, 0.5, "new", create_new=True).attach(engine, Events.ITERATION_COMPLETED)
    handle.remove()
    assert engine.state.new is None


def test_scheduler_pickles_with_its_position() -> None:
    scheduler = LambdaStateScheduler(Halving(), "p", create_new=True)
    engine: Engine[None] = Engine(lambda e, b: None)
    scheduler(engine)
    copy = pickle.loads(pickle.dumps(scheduler))
    copy(engine)
    assert engine.state.p == 0.25


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: LambdaStateScheduler(3, "p"), ValueError, "lambda_obj to be callable"),
        (lambda: PiecewiseLinearStateScheduler(None, "p"), TypeError, "list or tuple"),
        (lambda: PiecewiseLinearStateScheduler([(3, 1.0), (1, 0.0)], "p"), ValueError, "increasing"),
        (lambda: ExpStateScheduler("big", 0.5, "p"), TypeError, "initial_value"),
        (lambda: StepStateScheduler(1.0, 0.5, 0, "p"), ValueError, "step_size"),
        (lambda: MultiStepStateScheduler(1.0, 0.5, [3, 2], "p"), ValueError, "increasing"),
        (lambda: MultiStepStateScheduler(1.0, 0.5, [1.5], "p"), TypeError, "integer"),
        (lambda: ExpStateScheduler(1.0, 0.5, 7), TypeError, "param_name"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments(build: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build()


def test_plot_values_draws_the_simulation() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    lines = ExpStateScheduler.plot_values(5, initial_value=1.0, gamma=0.5, param_name="p")
    assert list(lines[0].get_ydata()) == pytest.approx([0.5, 0.25, 0.125, 0.0625, 0.03125])
