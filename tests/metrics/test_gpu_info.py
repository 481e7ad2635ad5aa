"""GpuInfo: the figures it publishes (through a fake pynvml) and its errors when pynvml or the GPU is missing."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers.common import setup_common_training_handlers
from cadence.metrics import GpuInfo

MIB = 1024 * 1024
MEM, UTIL = "gpu:0 mem(%)", "gpu:0 util(%)"


class FakeNVMLError(Exception):
    pass


def _fake_pynvml(utilizations: list[int | None]) -> types.ModuleType:
    """A pynvml with one GPU per utilization (``None``: not supported); GPU i uses (i + 1) GiB of 8 GiB."""
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
    module.initialised = 0  # type: ignore[attr-defined]

    def init() -> None:
        module.initialised += 1  # type: ignore[attr-defined]

    def utilization(handle: int) -> Any:
        if utilizations[handle] is None:
            raise FakeNVMLError("Not Supported")
        return types.SimpleNamespace(gpu=utilizations[handle], memory=0)

    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(utilizations)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda index: index  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=8192 * MIB, used=1024 * (handle + 1) * MIB, free=(8192 - 1024 * (handle + 1)) * MIB
    )
    module.nvmlDeviceGetUtilizationRates = utilization  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(utilizations: list[int | None]) -> types.ModuleType:
        module = _fake_pynvml(utilizations)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        return module

    return install


def test_compute_reports_each_gpu(fake_gpus: Any) -> None:
    module = fake_gpus([40, None])
    gpu_info = GpuInfo()
    assert module.initialised == 1
    gpu_info.reset()
    gpu_info.update(None)
    reports = gpu_info.compute()
    assert len(reports) == 2
    assert reports[0]["fb_memory_usage"] == {"total": 8192.0, "used": 1024.0, "free": 7168.0, "unit": "MiB"}
    assert reports[0]["utilization"]["gpu_util"] == 40
    assert reports[1]["utilization"]["gpu_util"] == "N/A"


def test_attached_metrics(fake_gpus: Any) -> None:
    fake_gpus([40, None])
    engine = Engine(lambda engine, batch: None)
    gpu_info = GpuInfo()
    gpu_info.attach(engine, name="gpu", event_name=Events.ITERATION_COMPLETED(every=2))
    assert gpu_info.is_attached(engine, event_name=Events.ITERATION_COMPLETED(every=2))
    metrics = engine.run([0, 1]).metrics
    # a utilization the GPU does not report is left out
    assert metrics == {"gpu:0 mem(%)": 12, "gpu:0 util(%)": 40, "gpu:1 mem(%)": 25}
    gpu_info.detach(engine, event_name=Events.ITERATION_COMPLETED(every=2))
    assert not gpu_info.is_attached(engine, event_name=Events.ITERATION_COMPLETED(every=2))


def test_no_gpu_listed_warns(fake_gpus: Any) -> None:
    fake_gpus([])
    with pytest.warns(UserWarning, match="No GPU information available"):
        assert GpuInfo().compute() == []


def test_setup_common_training_handlers_attaches_it(fake_gpus: Any) -> None:
    fake_gpus([70])
    trainer = Engine(lambda engine, batch: None)
    handlers = setup_common_training_handlers(trainer, with_gpu_stats=True, with_pbars=False, log_every_iters=3)
    assert isinstance(handlers.gpu_info, GpuInfo)
    state = trainer.run(range(2))
    assert state.metrics == {}
    state = trainer.run(range(3))
    assert state.metrics == {"gpu:0 mem(%)": 12, "gpu:0 util(%)": 70}


@pytest.mark.parametrize(
    ("has_pynvml", "has_gpu", "errors"),
    [
        (False, True, (ModuleNotFoundError,)),
        (True, False, (RuntimeError,)),
        (False, False, (ModuleNotFoundError, RuntimeError)),
    ],
)
def test_missing_requirements_are_named(
    monkeypatch: pytest.MonkeyPatch, has_pynvml: bool, has_gpu: bool, errors: tuple[type[Exception], ...]
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml([1]) if has_pynvml else None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_gpu)
    assert not GpuInfo.is_available()
    for error in errors:
        with pytest.raises(error) as caught:
            GpuInfo()
        message = str(caught.value)
        assert ("requires pynvml to be installed" in message) == (not has_pynvml)
        assert ("requires available GPU" in message) == (not has_gpu)
        trainer = Engine(lambda engine, batch: None)
        with pytest.raises(error, match="GpuInfo"):
            setup_common_training_handlers(trainer, with_gpu_stats=True, with_pbars=False)
    if not has_pynvml:
        assert "nvidia-ml-py" in message


def _fake_smi(monkeypatch: pytest.MonkeyPatch, response: dict[str, Any]) -> list[str]:
    """pynvml < 12: ``pynvml.smi.nvidia_smi.getInstance().DeviceQuery(...)`` returns ``response``."""
    queries: list[str] = []

    class Instance:
        def DeviceQuery(self, query: str) -> dict[str, Any]:  # pynvml's name
            queries.append(query)
            return response

    smi = types.ModuleType("pynvml.smi")
    smi.nvidia_smi = types.SimpleNamespace(getInstance=Instance)  # type: ignore[attr-defined]
    package = types.ModuleType("pynvml")
    package.__path__ = []
    package.smi = smi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", package)
    monkeypatch.setitem(sys.modules, "pynvml.smi", smi)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    return queries


def test_pynvml_smi_is_used_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    response = {"gpu": [{"fb_memory_usage": {"used": 300.0, "total": 1000.0}, "utilization": {"gpu_util": 9.0}}]}
    queries = _fake_smi(monkeypatch, response)
    engine = Engine(lambda engine, batch: None)
    GpuInfo().attach(engine)
    assert engine.run([0]).metrics == {"gpu:0 mem(%)": 30, "gpu:0 util(%)": 9}
    assert queries == ["memory.used, memory.total, utilization.gpu"]


@pytest.mark.parametrize(
    ("response", "match", "expected"),
    [
        ({}, "No GPU information available", {}),
        ({"gpu": [{"utilization": {"gpu_util": 5}}]}, "No GPU memory usage information", {UTIL: 5}),
        ({"gpu": [{"fb_memory_usage": {"used": 1}, "utilization": {"gpu_util": 5}}]}, "used/total", {UTIL: 5}),
        ({"gpu": [{"fb_memory_usage": {"used": 1, "total": 4}}]}, "No GPU utilization", {MEM: 25}),
        ({"gpu": [{"fb_memory_usage": {"used": 1, "total": 4}, "utilization": {}}]}, "'gpu_util'", {MEM: 25}),
    ],
)
def test_incomplete_reports_warn(
    monkeypatch: pytest.MonkeyPatch, response: dict[str, Any], match: str, expected: dict[str, int]
) -> None:
    _fake_smi(monkeypatch, response)
    engine = Engine(lambda engine, batch: None)
    engine.state.metrics = {}
    with pytest.warns(UserWarning, match=match):
        GpuInfo().completed(engine, "gpu")
    assert engine.state.metrics == expected
