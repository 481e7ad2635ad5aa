"""What the benchmark smoke tests share: running a script of ``benchmarks/`` and reading its markdown tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_benchmark(script: str, *arguments: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>`` with ``arguments``; it must exit with status 0."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def table(lines: list[str], header_start: str) -> list[list[str]]:
    """The rows (cells) of the markdown table whose header starts with ``header_start``, header included."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows
