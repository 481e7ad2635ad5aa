"""benchmarks/gpu.py runs end to end on the CPU with a tiny model: one table, a row per contender (its numbers are
never asserted on; the figures that matter come from a GPU)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"
CONTENDERS = ("hand-written loop", "cadence trainer", "cadence + handlers", "ignite trainer", "ignite + handlers")


def load_benchmark() -> object:
    spec = importlib.util.spec_from_file_location("gpu_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_a_tiny_cpu_run_prints_one_table_with_a_row_per_contender(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_benchmark()
    threads = torch.get_num_threads()
    try:
        module.main(["--device", "cpu", "--tiny", "--steps", "3", "--rounds", "1"])  # type: ignore[attr-defined]  # loaded from a path
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert out.startswith("# gpu.py: CPU"), out
    assert out.count("## fp32 (no autocast) on CPU") == 1, out
    assert "| contender | samples/s (median) | spread | vs hand-written | share of the step |" in out
    for name in CONTENDERS:
        assert out.count(f"| {name} | ") == 1, out
    assert "| hand-written loop | " in out and "| 1.000x |" in out


def test_asking_for_cuda_without_it_exits_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: the message is for machines without it")
    module = load_benchmark()
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--device", "cuda"])  # type: ignore[attr-defined]  # loaded from a path
    assert exit_info.value.code == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_fp16_off_cuda_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_benchmark()
    with pytest.raises(SystemExit):
        module.main(["--device", "cpu", "--tiny", "--dtype", "fp16"])  # type: ignore[attr-defined]  # loaded from a path
    assert "fp16" in capsys.readouterr().err
