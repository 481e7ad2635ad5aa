"""benchmarks/overhead.py and benchmarks/loop_anatomy.py run and print their tables (their numbers are never
asserted on)."""

from __future__ import annotations

import importlib.util

from tests.benchmarks._bench import BENCHMARKS, run_benchmark


def run(script: str, *args: str) -> str:
    done = run_benchmark(script, *args, timeout=300)
    assert not done.stderr, done.stderr  # nothing else: no warning, no log line
    return done.stdout


def test_the_overhead_benchmark_prints_both_tables() -> None:
    out = run("overhead.py", "--iterations", "4000", "--repeats", "1", "--fresh-iterations", "2000")
    for row in ("| 0 |", "| 3 |", "| 10 |", "| 10 filtered (every=100) |", "| 3 + 1 filtered (every=100) |"):
        assert row in out
    assert "in a fresh interpreter" in out
    fresh = out.split("in a fresh interpreter")[1].splitlines()
    assert fresh[2].startswith("| bare loop | cadence |")
    assert fresh[4].count("|") == fresh[2].count("|")  # one cell per column


def test_the_loop_anatomy_prints_a_row_per_piece() -> None:
    out = run("loop_anatomy.py", "--iterations", "2000", "--repeats", "1")
    spec = importlib.util.spec_from_file_location("loop_anatomy", BENCHMARKS / "loop_anatomy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| piece")]
    assert [row.split(" | ")[0][2:] for row in rows] == module.PIECES
    assert "replica of cadence's loop" in out
