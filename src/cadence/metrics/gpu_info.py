"""GPU memory use and utilization, read from NVIDIA's management library (NVML) through ``pynvml``.

Both packages that install the ``pynvml`` module work: ``pynvml < 12`` (Ignite's pin, read through its
``nvidia-smi``-like query) and ``nvidia-ml-py`` (read through the NVML calls, in the same report shape).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from cadence.engine import CallableEventWithFilter, Engine, Events, EventsList
from cadence.engine import EventEnum as EventEnum  # Ignite's gpu_info module exposes it
from cadence.metrics.metric import Metric

__all__ = ["GpuInfo"]

_INSTALL = "pip install nvidia-ml-py"
_MIB = 1024.0 * 1024.0


_QUERY = "memory.used, memory.total, utilization.gpu"
Query = Callable[[], Mapping[str, Any]]


class _PynvmlAndGpuMissing(ModuleNotFoundError, RuntimeError):
    """Both requirements are missing: catchable as either error, as Ignite raises one or the other."""


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _check_requirements(has_pynvml: bool) -> None:
    """Raise an error that names whatever is missing: pynvml, a GPU, or both."""
    has_gpu = torch.cuda.is_available()
    if not has_pynvml and not has_gpu:
        raise _PynvmlAndGpuMissing(
            f"GpuInfo: This contrib module requires pynvml to be installed ({_INSTALL}). This contrib module requires "
            "available GPU as well, and torch sees none (torch.cuda.is_available() is False).",
            name="pynvml",
        )
    if not has_pynvml:
        raise ModuleNotFoundError(
            f"GpuInfo: This contrib module requires pynvml to be installed ({_INSTALL}) to read the GPUs.",
            name="pynvml",
        )
    if not has_gpu:
        raise RuntimeError(
            "GpuInfo: This contrib module requires available GPU: torch.cuda.is_available() is False, so GpuInfo has "
            "nothing to report. Run on a machine with an NVIDIA GPU (and its driver), or leave GpuInfo out."
        )


def _connect() -> Query:
    """A function returning ``{"gpu": [report, ...]}``: through ``pynvml.smi`` (pynvml < 12, Ignite's pin) when
    present, else through the NVML API itself (nvidia-ml-py, any version)."""
    smi, pynvml = _import("pynvml.smi"), _import("pynvml")
    _check_requirements(smi is not None or pynvml is not None)
    if smi is not None:
        instance = smi.nvidia_smi.getInstance()
        return lambda: instance.DeviceQuery(_QUERY)
    pynvml.nvmlInit()  # fails with the driver's own error when the NVIDIA driver is missing
    return lambda: {"gpu": [_device_report(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())]}


def _device_report(pynvml: Any, index: int) -> dict[str, Any]:
    """One GPU's figures, shaped as ``nvidia-smi``'s query (memory in MiB, utilization in %)."""
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        utilization: int | str = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except pynvml.NVMLError:  # e.g. not supported on this GPU: reported as nvidia-smi does
        utilization = "N/A"
    return {
        "fb_memory_usage": {
            "total": memory.total / _MIB,
            "used": memory.used / _MIB,
            "free": memory.free / _MIB,
            "unit": "MiB",
        },
        "utilization": {"gpu_util": utilization, "unit": "%"},
    }


def _memory_percent(report: Mapping[str, Any]) -> int | None:
    memory = report.get("fb_memory_usage")
    if memory is None:
        warnings.warn(f"No GPU memory usage information available in {report}", UserWarning, stacklevel=3)
        return None
    if "used" not in memory or "total" not in memory:
        warnings.warn(
            f"GPU memory usage information does not provide used/total memory consumption information in {memory}",
            UserWarning,
            stacklevel=3,
        )
        return None
    return int(memory["used"] * 100.0 / memory["total"])


def _utilization_percent(report: Mapping[str, Any]) -> int | None:
    utilization = report.get("utilization")
    if utilization is None:
        warnings.warn(f"No GPU utilization information available in {report}", UserWarning, stacklevel=3)
        return None
    if "gpu_util" not in utilization:
        warnings.warn(
            f"GPU utilization information does not provide 'gpu_util' information in {utilization}",
            UserWarning,
            stacklevel=3,
        )
        return None
    try:
        return int(utilization["gpu_util"])
    except ValueError:  # "N/A": the GPU does not report it
        return None


class GpuInfo(Metric):
    """The memory use and utilization of each GPU of the machine, published as integer percentages.

    Attached with ``name="gpu"``, it writes ``engine.state.metrics["gpu:0 mem(%)"]`` and
    ``["gpu:0 util(%)"]`` (and so on for each GPU) at ``event_name``; a utilization that the GPU does not
    report is left out. Needs an NVIDIA GPU and ``pynvml`` (``pip install nvidia-ml-py``); without either,
    the constructor raises an error that names what is missing (``ModuleNotFoundError`` for pynvml,
    ``RuntimeError`` for the GPU). It accumulates nothing, so :meth:`reset` and :meth:`update` do nothing.

    Example:
        >>> engine = Engine(lambda engine, batch: None)
        >>> if GpuInfo.is_available():
        ...     GpuInfo().attach(engine, name="gpu")
        >>> all(name.startswith("gpu:") for name in engine.run([0]).metrics)
        True
    """

    required_output_keys = None

    def __init__(self) -> None:
        self._query = _connect()
        super().__init__()

    @staticmethod
    def is_available() -> bool:
        """Whether ``GpuInfo()`` can work here: ``pynvml`` is installed and torch sees a GPU."""
        return _import("pynvml") is not None and torch.cuda.is_available()

    def reset(self) -> None:
        """Nothing to forget: the figures are read when computed."""

    def update(self, output: Any) -> None:
        """Nothing to accumulate: the engine's output is not used."""

    def compute(self) -> list[dict[str, Any]]:
        """One report per GPU: ``{"fb_memory_usage": {"used", "total", ...}, "utilization": {"gpu_util", ...}}``."""
        data = self._query()
        if not data or not data.get("gpu"):
            warnings.warn("No GPU information available", UserWarning, stacklevel=2)
            return []
        return list(data["gpu"])

    def completed(self, engine: Engine[Any], name: str) -> None:
        """Write ``"<name>:<i> mem(%)"`` and ``"<name>:<i> util(%)"`` to ``engine.state.metrics``; a figure
        missing from a report is skipped with a warning (a utilization of ``"N/A"``, silently)."""
        reports = self.compute()
        if not reports:
            warnings.warn("No GPU information available", UserWarning, stacklevel=2)
            return
        metrics = engine.state.metrics
        for index, report in enumerate(reports):
            memory = _memory_percent(report)
            if memory is not None:
                metrics[f"{name}:{index} mem(%)"] = memory
        for index, report in enumerate(reports):
            utilization = _utilization_percent(report)
            if utilization is not None:
                metrics[f"{name}:{index} util(%)"] = utilization

    def attach(  # type: ignore[override]  # Ignite's signature: a name and an event, not a usage
        self,
        engine: Engine[Any],
        name: str = "gpu",
        event_name: CallableEventWithFilter | EventsList | str = Events.ITERATION_COMPLETED,
    ) -> None:
        """Publish the figures as ``engine.state.metrics["<name>:<i> ..."]`` each time ``event_name`` fires."""
        self._check_attach(engine, name, "epoch_wise")
        engine.add_event_handler(event_name, self.completed, name)

    def detach(  # type: ignore[override]  # matches attach
        self, engine: Engine[Any], event_name: CallableEventWithFilter | EventsList | str = Events.ITERATION_COMPLETED
    ) -> None:
        """Stop publishing at ``event_name`` (nothing happens if it is not attached there)."""
        if engine.has_event_handler(self.completed, event_name):
            engine.remove_event_handler(self.completed, event_name)

    def is_attached(  # type: ignore[override]  # matches attach
        self, engine: Engine[Any], event_name: CallableEventWithFilter | EventsList | str = Events.ITERATION_COMPLETED
    ) -> bool:
        """Whether the figures are published at ``event_name``."""
        return engine.has_event_handler(self.completed, event_name)
