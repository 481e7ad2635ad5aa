"""The README's Python snippets run as written, twice in a row (the second run finds the first one's files)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_twice(code: str, folder: Path) -> list[str]:
    script = folder / "snippet.py"
    script.write_text(code)
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    return outputs


def test_the_readme_has_the_snippets_this_test_knows() -> None:
    assert len(snippets()) == 5


@pytest.mark.slow
def test_quick_start_ready_made_pieces_and_preemption_run_twice(tmp_path: Path) -> None:
    quick_start, pieces, preemption, _, _ = snippets()
    first, second = run_twice(quick_start + pieces + preemption, tmp_path)
    assert "epoch 6: loss" in first and "validation accuracy" in first
    assert "validation accuracy" in second  # the rerun resumed from the first run's checkpoints


@pytest.mark.slow
def test_the_distributed_snippet_runs_twice(tmp_path: Path) -> None:
    for output in run_twice(snippets()[3], tmp_path):
        assert "rank 0 of 2, lr 0.1" in output and "rank 1 of 2, lr 0.1" in output


@pytest.mark.slow
def test_the_sharded_checkpoint_snippet_continues_the_quick_start_twice(tmp_path: Path) -> None:
    quick_start, *_, sharded = snippets()
    for output in run_twice(quick_start + sharded, tmp_path):
        assert "sharded checkpoints: ['checkpoint_115.dcp', 'checkpoint_120.dcp']" in output
