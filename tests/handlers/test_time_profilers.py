import csv
import time
from pathlib import Path
from typing import Any

import pytest
from torch import nn

from cadence import Engine, Events
from cadence.handlers.checkpoint import Checkpoint
from cadence.handlers.time_profilers import BasicTimeProfiler, HandlersTimeProfiler


def _sleeping_engine(seconds: float = 0.002) -> Engine[Any]:
    return Engine(lambda engine, batch: time.sleep(seconds))


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
    assert slow[2] >= 0.008 and slow[3][0] >= 0.004 and slow[4][1] in (0, 1)  # (seconds, 0-based call index)
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
    with pytest.raises(TypeError, match="takes parameters"):
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
    assert written[0][:3] == ["#", "processing_stats", "dataflow_stats"]
    assert len(written) == 1 + 2  # one row per iteration of the second run


def test_profiler_not_triggered_and_bad_attach() -> None:
    engine = _sleeping_engine(0)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.add_event_handler(Events.TERMINATE, lambda: None)
    engine.run(range(1))
    assert profiler.get_results()[0][2:] == ["not triggered", ("None", "None"), ("None", "None"), "None", "None"]
    with pytest.raises(ValueError, match="already wrapped"):
        HandlersTimeProfiler().attach(engine)
    with pytest.raises(ValueError, match="already attached"):
        profiler.attach(_sleeping_engine(0))
    with pytest.raises(TypeError, match="Argument engine should be"):
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
    assert row[2] != "not triggered" and 0 <= row[3][1] <= 2 and 0 <= row[4][1] <= 2  # (seconds, call index)
    assert engine.has_event_handler(early, Events.ITERATION_COMPLETED)
    engine.remove_event_handler(early, Events.ITERATION_COMPLETED)


def test_handlers_attached_before_the_profiler_do_not_count_as_processing() -> None:
    engine = Engine(lambda engine, batch: time.sleep(0.002))
    engine.add_event_handler(Events.STARTED, lambda: time.sleep(0.01))
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda: time.sleep(0.01))
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.run(range(3))
    rows = {row[1]: row for row in profiler.get_results() if row[1]}
    assert rows["STARTED"][2] >= 0.01  # a STARTED handler attached first is still counted
    assert max(profiler.processing_times) < 0.01


def test_basic_profiler_times_events_processing_and_dataflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _sleeping_engine(0.002)
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda: time.sleep(0.003))
    engine.add_event_handler(Events.ITERATION_STARTED, lambda: None)
    profiler = BasicTimeProfiler()
    profiler.attach(engine)
    profiler.attach(engine)  # attaching again is a no-op
    engine.run(range(3), max_epochs=2)
    results = profiler.get_results()
    processing = results["processing_stats"]
    assert processing["total"] >= 6 * 0.002 and processing["min/index"][0] >= 0.002
    assert set(processing) == {"total", "min/index", "max/index", "mean", "std"}
    handlers = results["event_handlers_stats"]
    assert handlers["EPOCH_COMPLETED"]["total"] >= 0.006
    assert handlers["COMPLETED"] == {"total": "not yet triggered"}
    assert handlers["total_time"].item() >= handlers["EPOCH_COMPLETED"]["total"]
    assert len(results["event_handlers_names"]["EPOCH_COMPLETED_names"]) == 1
    assert results["event_handlers_names"]["COMPLETED_names"] == []
    text = BasicTimeProfiler.print_results(results)
    assert capsys.readouterr().out.strip() == text.strip() and "nan" not in text
    profiler.write_results(tmp_path / "basic.csv")
    with open(tmp_path / "basic.csv") as file:
        written = list(csv.reader(file))
    assert written[0][:4] == ["epoch", "iteration", "processing_stats", "dataflow_stats"] and len(written) == 7
    assert [row[0] for row in written[1:]] == ["1.0"] * 3 + ["2.0"] * 3


def test_basic_profiler_bad_attach() -> None:
    with pytest.raises(TypeError, match="Argument engine should be"):
        BasicTimeProfiler().attach(None)  # type: ignore[arg-type]
    engine = _sleeping_engine(0)
    BasicTimeProfiler().attach(engine)
    with pytest.raises(ValueError, match="already wrapped"):
        HandlersTimeProfiler().attach(engine)
