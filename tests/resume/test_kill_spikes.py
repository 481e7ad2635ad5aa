"""Kill a run that SpikeRollback has rolled back (SIGKILL, at random iterations after its first rollback, inside a
step or between the rollback and the next checkpoint), resume it each time in a new process: it makes the same
rollbacks and ends with the same weights, bit for bit, as the run that was never stopped."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

SCRIPT = Path(__file__).with_name("spike_script.py")
ITERATIONS = 39  # 100 samples in batches of 8: 13 iterations per epoch, 3 epochs

pytestmark = pytest.mark.slow


def run_script(out: Path, *options: str, expect_killed: bool = False) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *options], capture_output=True, text=True, timeout=240, check=False
    )
    if expect_killed:
        assert done.returncode != 0, f"the run was meant to be killed:\n{done.stdout}\n{done.stderr}"
    else:
        assert done.returncode == 0, done.stderr


def final_state(out: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(out / "final.pt", weights_only=True)
    return state


@pytest.mark.parametrize(
    "mode", [("--snapshot-every", "3"), ("--from-checkpoint",)], ids=["snapshot-every-3", "from-checkpoint"]
)
def test_killed_after_rollbacks_and_resumed_ends_bit_identical(tmp_path: Path, mode: tuple[str, ...]) -> None:
    run_script(tmp_path / "reference", *mode)
    expected = final_state(tmp_path / "reference")
    rollbacks = expected["rollbacks"]
    assert {reason for _, reason, _ in rollbacks} == {"non_finite", "spike"}, rollbacks
    first = rollbacks[0][0]
    rng = random.Random(len(mode))
    kills = sorted({first, *rng.sample(range(first + 1, ITERATIONS), 4)})
    out = tmp_path / "killed"
    for attempt, iteration in enumerate(kills):  # the first kill lands right after a rollback, before any save
        where = "--kill-at" if attempt % 2 == 0 else "--kill-in-step"
        run_script(out, *mode, "--resume", where, str(iteration), expect_killed=True)
    run_script(out, *mode, "--resume")

    got = final_state(out)
    assert got["rollbacks"] == rollbacks, kills
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), (name, kills)
    for key, slot in expected["optimizer"]["state"].items():
        assert torch.equal(got["optimizer"]["state"][key]["momentum_buffer"], slot["momentum_buffer"]), kills
    assert got["optimizer"]["param_groups"] == expected["optimizer"]["param_groups"]
