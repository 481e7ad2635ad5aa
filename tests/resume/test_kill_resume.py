"""Kill a training process with SIGKILL anywhere, resume it in a new process, get bit-identical weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("train_script.py")
# 100 items, batch 8: 13 iterations per epoch, 39 in all; checkpoints every 2 iterations.
MID_EPOCH, AFTER_EPOCH_BOUNDARY, DURING_SAVE = 7, 14, 10

pytestmark = pytest.mark.slow


def run_script(out: Path, *options: str, expect_killed: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *options], capture_output=True, text=True, timeout=240, check=False
    )
    if expect_killed:
        assert done.returncode != 0, f"the run was meant to be killed:\n{done.stdout}\n{done.stderr}"
    else:
        assert done.returncode == 0, done.stderr
    return done.stdout


def final_state(out: Path) -> dict[str, dict[str, object]]:
    state: dict[str, dict[str, object]] = torch.load(out / "final.pt", weights_only=True)
    return state


def assert_identical(got: dict[str, dict[str, object]], expected: dict[str, dict[str, object]]) -> None:
    for name, param in expected["model"].items():
        assert torch.equal(got["model"][name], param), name  # type: ignore[arg-type]
    opt_got, opt_expected = got["optimizer"]["state"], expected["optimizer"]["state"]
    for key, slot in opt_expected.items():  # type: ignore[attr-defined]
        assert torch.equal(opt_got[key]["momentum_buffer"], slot["momentum_buffer"])  # type: ignore[index]
    assert got["optimizer"]["param_groups"] == expected["optimizer"]["param_groups"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, dict[str, object]]]:
    references = {}
    for workers in (0, 2):
        out = tmp_path_factory.mktemp(f"reference{workers}")
        run_script(out, "--workers", str(workers))
        references[workers] = final_state(out)
    return references


@pytest.mark.parametrize(
    ("workers", "kill"),
    [
        (0, ("--kill-at", str(MID_EPOCH))),
        (0, ("--kill-at", str(AFTER_EPOCH_BOUNDARY))),
        (0, ("--kill-in-save", str(DURING_SAVE))),
        (2, ("--kill-at", str(MID_EPOCH + 10))),
    ],
    ids=["mid-epoch", "after-epoch-boundary", "during-checkpoint-write", "two-workers-mid-epoch"],
)
def test_killed_and_resumed_run_ends_bit_identical(
    tmp_path: Path, reference: dict[int, dict[str, dict[str, object]]], workers: int, kill: tuple[str, str]
) -> None:
    run_script(tmp_path, "--workers", str(workers), *kill, expect_killed=True)
    assert not (tmp_path / "final.pt").exists()
    printed = run_script(tmp_path, "--workers", str(workers), "--resume")
    assert "resumed from" in printed and "None" not in printed
    assert_identical(final_state(tmp_path), reference[workers])


def test_two_process_gloo_run_killed_and_resumed(tmp_path: Path) -> None:
    reference_dir = tmp_path / "reference"
    run_script(reference_dir, "--nproc", "2")
    run_script(tmp_path / "killed", "--nproc", "2", "--kill-at", str(9), expect_killed=True)
    run_script(tmp_path / "killed", "--nproc", "2", "--resume")
    assert_identical(final_state(tmp_path / "killed"), final_state(reference_dir))
