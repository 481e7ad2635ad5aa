import csv
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine.supervised import create_supervised_trainer
from cadence.handlers.checkpoint import Checkpoint
from cadence.handlers.timing import HandlersTimeProfiler, TimeLimit, Timer


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
    assert 4 <= state.iteration < 100


@pytest.mark.parametrize(("limit", "error"), [(0, ValueError), (-1, ValueError), ("10", TypeError), (True, TypeError)])
def test_time_limit_rejects_bad_limits(limit: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="limit_sec"):
        TimeLimit(limit)


def test_profiler_times_each_handler_processing_and_dataflow() -> None:
    engine = _sleeping_engine(0.002)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)

    def slow_handler(engine: Engine[Any]) -> None:
        time.sleep(0.004)

    engine.add_event_handler(Events.EPOCH_COMPLETED, slow_handler)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), lambda: None)
    engine.run(range(4), max_epochs=2)
    rows = {(row[0], row[1]): row for row in profiler.get_results()}
    slow = rows[("test_profiler_times_each_handler_processing_and_dataflow.<locals>.slow_handler", "EPOCH_COMPLETED")]
    assert slow[2] >= 0.008 and slow[3][0] >= 0.004 and slow[4][1] in (1, 2)
    assert rows[("test_profiler_times_each_handler_processing_and_dataflow.<locals>.<lambda>", "ITERATION_COMPLETED")]
    processing = rows[("Processing", "None")]
    assert processing[3][0] >= 0.002 and processing[2] >= 0.016
    assert rows[("Dataflow", "None")][2] < processing[2]
    assert rows[("Total", "")][2] >= slow[2]


def test_profiled_handlers_can_still_be_found_and_removed(tmp_path: Path) -> None:
    engine = _sleeping_engine(0)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    calls: list[int] = []

    def record(engine: Engine[Any]) -> None:
        calls.append(engine.state.iteration)

    engine.add_event_handler(Events.ITERATION_COMPLETED, record)
    assert engine.has_event_handler(record, Events.ITERATION_COMPLETED)
    engine.remove_event_handler(record, Events.ITERATION_COMPLETED)
    assert not engine.has_event_handler(record)
    model = nn.Linear(2, 1)
    checkpoint = Checkpoint({"model": model}, tmp_path, n_saved=None)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)  # still named by iteration
    engine.add_event_handler(Events.COMPLETED, engine.terminate)  # the engine's own methods pass through
    engine.run(range(4))
    assert calls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_2.pt", "model_4.pt"]
    with pytest.raises(TypeError, match="cannot be called"):
        engine.add_event_handler(Events.STARTED, lambda a, b, c: None)


def test_profiler_results_reset_on_a_fresh_run_and_print(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = _sleeping_engine(0)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.add_event_handler(Events.EPOCH_COMPLETED | Events.COMPLETED, lambda: None)
    engine.run(range(2), max_epochs=3)
    engine.state.max_epochs = None  # start afresh
    engine.run(range(2), max_epochs=1)
    results = profiler.get_results()
    assert [row[1] for row in results[:2]] == ["EPOCH_COMPLETED", "COMPLETED"]  # timed per event
    assert results[0][3][1] <= 1 and results[0][4][1] <= 1  # only the second run's call is counted
    text = HandlersTimeProfiler.print_results(results)
    assert capsys.readouterr().out.strip() == text
    assert text.splitlines()[0].split()[:2] == ["Handler", "Event"]
    profiler.write_results(tmp_path / "profile.csv")
    with open(tmp_path / "profile.csv") as file:
        written = list(csv.reader(file))
    assert written[0][0] == "handler" and len(written) == len(results) + 1


def test_profiler_not_triggered_and_bad_attach() -> None:
    engine = _sleeping_engine(0)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.add_event_handler(Events.TERMINATE, lambda: None)
    engine.run(range(1))
    assert profiler.get_results()[0][3] == "not triggered"
    with pytest.raises(ValueError, match="already wrapped"):
        HandlersTimeProfiler().attach(engine)
    with pytest.raises(ValueError, match="already attached"):
        profiler.attach(_sleeping_engine(0))
    with pytest.raises(TypeError, match="cadence Engine"):
        HandlersTimeProfiler().attach(object())  # type: ignore[arg-type]


def test_profiler_times_handlers_attached_before_it() -> None:
    engine = _sleeping_engine(0)
    calls: list[int] = []

    def early(engine: Engine[Any]) -> None:
        calls.append(engine.state.iteration)

    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), early)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.run(range(6))
    row = next(row for row in profiler.get_results() if row[0].endswith("early"))
    assert row[1] == "ITERATION_COMPLETED" and calls == [2, 4, 6]
    assert row[3] != "not triggered" and 1 <= row[3][1] <= 3 and 1 <= row[4][1] <= 3  # (seconds, call index)
    assert engine.has_event_handler(early, Events.ITERATION_COMPLETED)
    engine.remove_event_handler(early, Events.ITERATION_COMPLETED)
