import time
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine.supervised import create_supervised_trainer
from cadence.handlers.timing import TimeLimit, Timer


def _sleeping_engine(seconds: float = 0.002) -> Engine[Any]:
    return Engine(lambda engine, batch: time.sleep(seconds))


def test_timer_measures_iterations_on_average() -> None:
    engine = _sleeping_engine()
    timer = Timer(average=True).attach(
        engine,
        start=Events.EPOCH_STARTED,
        resume=Events.ITERATION_STARTED,
        pause=Events.ITERATION_COMPLETED,
        step=Events.ITERATION_COMPLETED,
    )
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda: time.sleep(0.05))  # not counted: timer paused
    engine.run(range(4), max_epochs=2)
    assert timer.step_count == 4  # reset at each epoch start
    assert 0.002 <= timer.value() < 0.045  # counting the paused sleep would give >= 0.052
    assert not timer.running


def test_timer_whole_run_total() -> None:
    engine = _sleeping_engine()
    timer = Timer().attach(engine)
    engine.run(range(5))
    assert 0.01 <= timer.value() < 0.5
    value = timer.value()
    time.sleep(0.005)
    assert timer.value() == value  # paused at COMPLETED


def test_timer_pause_resume_and_state_dict() -> None:
    timer = Timer()
    time.sleep(0.003)
    timer.pause()
    paused = timer.value()
    time.sleep(0.003)
    assert timer.value() == paused >= 0.003
    timer.resume()
    timer.resume()  # no effect when running
    time.sleep(0.003)
    assert timer.value() >= paused + 0.003
    state = timer.state_dict()
    restored = Timer()
    restored.load_state_dict(state)
    assert restored.value() == pytest.approx(state["total"])
    with pytest.raises(ValueError, match="keys 'total' and 'step_count'"):
        restored.load_state_dict({"total": 1.0})
    with pytest.raises(ValueError, match="total must be"):
        restored.load_state_dict({"total": -1.0, "step_count": 0})
    with pytest.raises(ValueError, match="step_count must be"):
        restored.load_state_dict({"total": 1.0, "step_count": 1.5})


def test_time_limit_stops_a_training_run() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss())
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda: time.sleep(0.01))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, TimeLimit(limit_sec=0.05))
    state = trainer.run([(torch.randn(4, 3), torch.randn(4, 1))], max_epochs=1000)
    assert 1 <= state.iteration < 100  # ~5 iterations; fewer on a loaded machine


@pytest.mark.parametrize(("limit", "error"), [(0, ValueError), (-1, ValueError), ("10", TypeError), (True, TypeError)])
def test_time_limit_rejects_bad_limits(limit: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="limit_sec"):
        TimeLimit(limit)
