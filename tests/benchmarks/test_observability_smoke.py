"""benchmarks/observability.py runs and prints each handler's cost beside the plain engine's (its numbers are
never asserted on)."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import pytest
import torch

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "observability.py"


def test_the_benchmark_prints_one_row_per_handler_in_both_tables(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("observability_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    threads = torch.get_num_threads()
    try:
        spec.loader.exec_module(module)
        module.main(["--iterations", "200", "--step-iterations", "20", "--repeats", "1", "--every", "10"])
    finally:  # what the script sets for itself, given back to the rest of the session
        del sys.modules[spec.name]
        logging.disable(logging.NOTSET)
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    for handler in ("plain engine", "Throughput(every=10)", "MemoryMonitor(every=10)", "SlowRankDetector(every=10)"):
        assert out.count(f"| {handler} |") == 2, out  # the trivial step's table and the training step's
    assert out.count("| plain engine | ") == 2 and "1.000x" in out
