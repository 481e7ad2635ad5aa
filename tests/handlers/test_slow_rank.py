"""SlowRankDetector, and the observability handlers across ranks (two gloo processes)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence import distributed as idist
from cadence.handlers import slow_rank as slow_rank_module
from cadence.handlers.slow_rank import SlowRankDetector
from cadence.handlers.throughput import Throughput


class FakeJob:
    """Three ranks seen from rank 0: the step times each window gathers are given by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.windows: list[list[float]] = []
        self.host_gathers = 0
        monkeypatch.setattr(slow_rank_module, "get_world_size", lambda: 3)
        monkeypatch.setattr(slow_rank_module, "all_reduce", self.all_reduce)
        monkeypatch.setattr(slow_rank_module, "all_gather", self.all_gather)

    def all_reduce(self, slots: torch.Tensor, op: Any) -> torch.Tensor:
        return torch.tensor(self.windows.pop(0), dtype=torch.float64)

    def all_gather(self, host: str) -> list[str]:
        self.host_gathers += 1
        return ["node-a", "node-b", "node-c"]


def test_a_slow_rank_is_named_once_per_episode(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    job = FakeJob(monkeypatch)
    job.windows = [[1.0, 1.0, 3.0], [1.0, 1.1, 2.0], [1.0, 1.0, 1.1], [1.0, 1.0, 1.5], [2.0, 1.0, 1.0]]
    engine = Engine(lambda engine, batch: None)
    detector = SlowRankDetector(every=2, threshold=1.25)
    detector.attach(engine)
    ratios = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(every=2),
        lambda e: ratios.append((e.state.metrics["slow_rank/slowest_rank"], e.state.metrics["slow_rank/ratio"])),
    )
    with caplog.at_level(logging.INFO, logger="cadence.handlers.slow_rank"):
        engine.run(range(10))
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "SlowRankDetector: rank 2 (host node-c) is slow: 3.00x the median step time over iterations 1-2 "
        "(3 s vs 1 s; threshold 1.25x).",
        "SlowRankDetector: rank 2 (host node-c) is slow: 1.50x the median step time over iterations 7-8 "
        "(1.5 s vs 1 s; threshold 1.25x).",
        "SlowRankDetector: rank 0 (host node-a) is slow: 2.00x the median step time over iterations 9-10 "
        "(2 s vs 1 s; threshold 1.25x).",
    ]
    infos = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert infos == [
        "SlowRankDetector: rank 2 is no longer slow (1.10x the median over iterations 5-6).",
        "SlowRankDetector: rank 2 is no longer slow (1.00x the median over iterations 9-10).",
    ]
    assert ratios == [(2, 3.0), (2, 2.0 / 1.1), (2, 1.1), (2, 1.5), (0, 2.0)]
    assert job.host_gathers == 1  # the hosts are asked for once per run, when a rank is first named
    assert detector.step_times == [2.0, 1.0, 1.0] and detector.state_dict() == {"slow_ranks": [0]}


def test_a_resumed_run_does_not_name_a_rank_it_named_before(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    job = FakeJob(monkeypatch)
    job.windows = [[1.0, 1.0, 3.0]] * 4
    first, second = SlowRankDetector(every=2), SlowRankDetector(every=2)
    engine = Engine(lambda engine, batch: None)
    first.attach(engine)
    with caplog.at_level(logging.WARNING):
        engine.run(range(4))
        second.load_state_dict(first.state_dict())
        resumed = Engine(lambda engine, batch: None)
        second.attach(resumed)
        resumed.run(range(4))
    assert caplog.text.count("is slow") == 1


def test_in_one_process_nothing_is_slow() -> None:
    engine = Engine(lambda engine, batch: time.sleep(0.001 * (engine.state.iteration % 2)))
    detector = SlowRankDetector(every=3)
    detector.attach(engine)
    seen = []
    engine.add_event_handler(Events.STARTED, lambda e: seen.append(dict(e.state.metrics)))
    metrics = engine.run(range(9)).metrics
    assert all(math.isnan(value) for value in seen[0].values())  # named from the start
    assert metrics["slow_rank/slowest_rank"] == 0 and metrics["slow_rank/ratio"] == 1.0
    assert len(detector.step_times) == 1 and detector.step_times[0] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "every should be"),
        ({"every": False}, "every should be"),
        ({"threshold": 1.0}, "threshold should be"),
        ({"threshold": "2"}, "threshold should be"),
        ({"threshold": True}, "threshold should be"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlowRankDetector(**kwargs)


@pytest.mark.parametrize(
    "state", [{}, {"slow_ranks": [1], "extra": 0}, {"slow_ranks": 1}, {"slow_ranks": [-1]}, {"slow_ranks": [True]}]
)
def test_bad_states_are_refused(state: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SlowRankDetector state_dict"):
        SlowRankDetector().load_state_dict(state)


def test_bad_attachments_are_refused() -> None:
    with pytest.raises(TypeError, match="needs an Engine"):
        SlowRankDetector().attach(object())  # type: ignore[arg-type]
    engine = Engine(lambda engine, batch: None)
    detector = SlowRankDetector()
    detector.attach(engine)
    with pytest.raises(RuntimeError, match="attached already"):
        detector.attach(engine)


# ---------------------------------------------------------------------------------------------- two gloo processes
SLOW, USUAL = 0.12, 0.03  # seconds per step


def _two_ranks(local_rank: int) -> dict[str, Any]:
    rank = idist.get_rank()
    messages: list[tuple[int, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append((record.levelno, record.getMessage()))

    logger = logging.getLogger("cadence.handlers.slow_rank")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)

    def step(engine: Engine[Any], batch: Any) -> None:
        window = (engine.state.iteration - 1) // 3  # windows 0-1 and 4-5: rank 1 is slow; 2-3: nobody
        time.sleep(SLOW if rank == 1 and window in (0, 1, 4, 5) else USUAL)

    engine = Engine(step)
    detector = SlowRankDetector(every=3, threshold=1.25)
    detector.attach(engine)  # first: Throughput's collective at the same iterations would make the ranks wait
    Throughput(every=3, peak_flops=1e12 if rank == 0 else None, flops_per_step=1e6).attach(engine)
    metrics = engine.run([torch.zeros(4 * (rank + 1), 2)] * 18).metrics
    return {"messages": messages, "metrics": metrics, "state": detector.state_dict(), "host": idist.hostname()}


@pytest.mark.slow
def test_two_ranks_one_of_them_sleeping() -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(_two_ranks)
    warnings = [text for level, text in results[0]["messages"] if level == logging.WARNING]
    assert len(warnings) == 2, results[0]["messages"]  # two episodes, each named once
    host = results[1]["host"]
    assert all(text.startswith(f"SlowRankDetector: rank 1 (host {host}) is slow: ") for text in warnings)
    assert "over iterations 1-3 " in warnings[0] and "over iterations 13-15 " in warnings[1]
    infos = [text for level, text in results[0]["messages"] if level == logging.INFO]
    assert len(infos) == 1 and "over iterations 7-9" in infos[0]
    assert results[1]["messages"] == []  # rank 0 speaks for the job
    assert results[0]["state"] == results[1]["state"] == {"slow_ranks": [1]}
    for result in results:
        assert result["metrics"]["slow_rank/slowest_rank"] == 1 and result["metrics"]["slow_rank/ratio"] > 2  # ~4
    # Throughput: the job's rates are the ranks' summed; the MFU only where every rank knows its peak.
    zero, one = results[0]["metrics"], results[1]["metrics"]
    for name in ("samples_per_s", "flops_per_s"):
        assert (
            zero[f"throughput/{name}"]
            == one[f"throughput/{name}"]
            == pytest.approx(zero[f"throughput/rank_{name}"] + one[f"throughput/rank_{name}"])
        )
    assert zero["throughput/rank_samples_per_s"] / zero["throughput/rank_flops_per_s"] == pytest.approx(4 / 1e6)
    assert one["throughput/rank_samples_per_s"] / one["throughput/rank_flops_per_s"] == pytest.approx(8 / 1e6)
    assert zero["throughput/rank_mfu"] == pytest.approx(zero["throughput/rank_flops_per_s"] / 1e12)
    assert math.isnan(zero["throughput/mfu"]) and "throughput/mfu" not in one
