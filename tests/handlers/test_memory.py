from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers import memory as memory_module
from cadence.handlers.memory import MemoryMonitor

OOM_AT = 3


def failing_step(engine: Engine[Any], batch: Any) -> None:
    if engine.state.iteration >= OOM_AT:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_the_processs_memory_is_published_from_the_start_and_every_window() -> None:
    engine = Engine(lambda engine, batch: torch.ones(256, 1024))
    MemoryMonitor(every=2, device="cpu").attach(engine)
    seen = []
    engine.add_event_handler(Events.STARTED, lambda e: seen.append(dict(e.state.metrics)))
    metrics = engine.run(range(4)).metrics
    assert set(seen[0]) == {"memory/rss_mib", "memory/peak_rss_mib"}  # known at once, unlike a rate
    assert 1 < metrics["memory/rss_mib"] <= metrics["memory/peak_rss_mib"] < 1 << 20
    assert not any("cuda" in name for name in metrics)  # on the CPU


def test_an_out_of_memory_error_leaves_run_as_before_and_says_why_no_snapshot_was_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failures = []

    def fails_once(engine: Engine[Any], batch: Any) -> None:
        if not failures and engine.state.iteration == OOM_AT:
            failures.append(engine.state.iteration)
            failing_step(engine, batch)

    engine = Engine(fails_once)
    MemoryMonitor(every=1, snapshot_dir=tmp_path / "snapshots", device="cpu").attach(engine)
    with caplog.at_level(logging.WARNING), pytest.raises(torch.OutOfMemoryError, match="Tried to allocate") as raised:
        engine.run(range(5))
    assert failures == [OOM_AT]
    assert "CUDA out of memory" in str(raised.value)
    assert f"no CUDA memory snapshot at step {OOM_AT} (out of memory): CUDA is not available" in caplog.text
    assert not (tmp_path / "snapshots").exists()
    assert engine.state.iteration == OOM_AT - 1  # the failed iteration runs again if the run continues
    engine.run(range(5))  # the engine stays usable
    assert engine.state.iteration == 5


def test_other_errors_pass_through_untouched() -> None:
    error = ValueError("bad batch")

    def step(engine: Engine[Any], batch: Any) -> None:
        raise error

    engine = Engine(step)
    MemoryMonitor(snapshot_dir="unused").attach(engine)
    with pytest.raises(ValueError) as raised:
        engine.run([0])
    assert raised.value is error


@pytest.mark.parametrize("monitor_first", [True, False])
def test_an_error_another_handler_takes_care_of_is_not_raised(monitor_first: bool, tmp_path: Path) -> None:
    engine = Engine(failing_step)
    handled = []
    if monitor_first:
        MemoryMonitor(snapshot_dir=tmp_path, device="cpu").attach(engine)
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, error: handled.append(type(error)))
    if not monitor_first:
        MemoryMonitor(snapshot_dir=tmp_path, device="cpu").attach(engine)
    engine.run(range(5))  # as without the monitor: the other handler swallowed it
    assert handled == [torch.OutOfMemoryError]


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """CUDA's memory calls, answered on the CPU: the snapshot logic runs as it would on a GPU."""
    calls: dict[str, list[Any]] = {"record": [], "reset": []}
    monkeypatch.setattr(memory_module, "_cuda_is_usable", lambda: True)
    monkeypatch.setattr(torch.cuda.memory, "_snapshot", lambda: {"segments": [], "device_traces": []})
    monkeypatch.setattr(torch.cuda.memory, "_record_memory_history", lambda **kwargs: calls["record"].append(kwargs))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 3 << 20)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 5 << 20)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda device=None: 8 << 20)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls["reset"].append(device))
    return calls


def test_on_cuda_snapshots_every_n_steps_and_on_out_of_memory(
    tmp_path: Path, fake_cuda: dict[str, list[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(failing_step)
    monitor = MemoryMonitor(every=1, snapshot_dir=tmp_path, snapshot_every=2, max_entries=1000, device="cuda")
    monitor.attach(engine)
    with caplog.at_level(logging.WARNING), pytest.raises(torch.OutOfMemoryError):
        engine.run(range(5))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rank0_step2.pickle", "rank0_step3_oom.pickle"]
    assert pickle.loads((tmp_path / "rank0_step3_oom.pickle").read_bytes()) == {"segments": [], "device_traces": []}
    assert "wrote the CUDA memory snapshot" in caplog.text and "rank0_step3_oom.pickle" in caplog.text
    assert fake_cuda["record"] == [{"max_entries": 1000}, {"enabled": None}]  # recorded while the engine ran
    metrics = engine.state.metrics
    assert metrics["memory/cuda_allocated_mib"] == 3.0 and metrics["memory/cuda_peak_allocated_mib"] == 5.0
    assert metrics["memory/cuda_peak_reserved_mib"] == 8.0
    assert len(fake_cuda["reset"]) == 3  # at the start and after each window: each peak is its window's


def test_a_snapshot_that_cannot_be_written_does_not_hide_the_error(
    tmp_path: Path, fake_cuda: dict[str, list[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("")
    engine = Engine(failing_step)
    MemoryMonitor(snapshot_dir=blocked / "snapshots", device="cuda").attach(engine)
    with caplog.at_level(logging.WARNING), pytest.raises(torch.OutOfMemoryError):
        engine.run(range(5))
    assert "could not write the memory snapshot" in caplog.text


def test_snapshots_without_cuda_are_announced_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(lambda engine, batch: None)
    MemoryMonitor(snapshot_dir=tmp_path, snapshot_every=1, device="cpu").attach(engine)
    with caplog.at_level(logging.WARNING):
        engine.run(range(3), max_epochs=2)
        engine.run(range(3), max_epochs=3)
    assert caplog.text.count("no CUDA memory snapshots") == 1
    assert list(tmp_path.iterdir()) == []


def test_detach_removes_every_handler(tmp_path: Path) -> None:
    engine = Engine(failing_step)
    monitor = MemoryMonitor(snapshot_dir=tmp_path)
    monitor.attach(engine)
    monitor.detach()
    with pytest.raises(torch.OutOfMemoryError):
        engine.run(range(5))
    assert engine.state.metrics == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"every": 0}, ValueError, "every should be"),
        ({"every": True}, ValueError, "every should be"),
        ({"snapshot_every": 0, "snapshot_dir": "x"}, ValueError, "snapshot_every should be"),
        ({"max_entries": -5}, ValueError, "max_entries should be"),
        ({"snapshot_every": 10}, ValueError, "needs snapshot_dir"),
        ({"snapshot_on_oom": "yes"}, TypeError, "snapshot_on_oom should be"),
        ({"snapshot_dir": 3}, TypeError, "snapshot_dir should be"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        MemoryMonitor(**kwargs)


def test_bad_attachments_are_refused() -> None:
    with pytest.raises(TypeError, match="needs an Engine"):
        MemoryMonitor().attach(None)  # type: ignore[arg-type]
    engine = Engine(lambda engine, batch: None)
    monitor = MemoryMonitor()
    monitor.attach(engine)
    with pytest.raises(RuntimeError, match="attached already"):
        monitor.attach(engine)
