"""The demo trains for real and writes what it promises."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence.examples import digits
from cadence.examples.curves import read_curves


def test_demo_learns_digits_and_writes_its_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = digits.main(["--epochs", "5", "--quiet", "--output", str(tmp_path)])
    assert result is not None
    assert len(result["loss"]) == 5 and result["loss"][-1] < result["loss"][0]
    assert result["test_accuracy"] > 0.9
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert len(list((tmp_path / "best").glob("model_*_val_accuracy=*.pt"))) == 1
    assert len(list((tmp_path / "checkpoints").glob("checkpoint_*.pt"))) == 2
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    with (tmp_path / "metrics.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    speed, memory = "train/throughput/samples_per_s", "train/memory/rss_mib"
    assert list(rows[0]) == [
        "step",
        "train/loss",
        speed,
        memory,
        "train/epoch",
        "lr/group_0",
        "val/accuracy",
        "val/loss",
    ]
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(set(steps))  # one row per step
    assert sum(bool(row["val/accuracy"]) for row in rows) == 5 and all(row["train/loss"] for row in rows[:3])
    training = [row for row in rows if row["train/loss"]]
    assert all(float(row[speed]) > 0 and float(row[memory]) > 1 for row in training)  # measured from the first row
    out = capsys.readouterr().out
    assert "val accuracy" in out and "test accuracy of the best model" in out


def test_demo_resume_continues_a_finished_run_and_draws_the_whole_run(tmp_path: Path) -> None:
    digits.main(["--epochs", "2", "--quiet", "--no-tensorboard", "--output", str(tmp_path)])
    (tmp_path / "curves.png").unlink()
    result = digits.main(["--epochs", "3", "--quiet", "--no-tensorboard", "--resume", "--output", str(tmp_path)])
    assert result is not None and len(result["loss"]) == 3  # epochs 1-2 restored from the checkpoint, 3 trained
    curves = read_curves(tmp_path / "metrics.csv", epoch_length=34)  # what curves.png shows: from the CSV
    assert [epoch for epoch, _ in curves.val_accuracy] == [1.0, 2.0, 3.0]
    assert [value for _, value in curves.val_accuracy] == pytest.approx(result["val_accuracy"])
    assert curves.train_loss[0][0] == pytest.approx(10 / 34) and len(curves.train_loss) == len(curves.lr) == 10
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("missing", ["sklearn", "matplotlib"])
def test_demo_without_an_extra_says_how_to_install_it(tmp_path: Path, missing: str) -> None:
    hide = f"import sys; sys.modules[{missing!r}] = None; from cadence.examples import digits; digits.main()"
    done = subprocess.run(
        [sys.executable, "-c", hide, "--output", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install scikit-learn matplotlib" in done.stderr and "pip install -e '.[demo]'" in done.stderr
    assert {"sklearn": "'scikit-learn'", "matplotlib": "'matplotlib'"}[missing] in done.stderr
    assert not (tmp_path / "metrics.csv").exists()  # said before any training


def test_demo_says_once_why_early_stopping_ended_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--epochs", "8", "--patience", "2", "--quiet", "--no-tensorboard", "--output", str(tmp_path)]
    result = digits.main(args)
    assert result is not None and len(result["loss"]) < 8
    out = capsys.readouterr().out
    stopped = [line for line in out.splitlines() if line.startswith("early stopping")]
    best = max(result["val_accuracy"])
    assert stopped == [
        f"early stopping after epoch {len(result['loss'])}: validation accuracy has not improved for 2 epochs "
        f"(--patience 2); best {best:.2%} at epoch {result['val_accuracy'].index(best) + 1}"
    ]
    digits.main([*args, "--resume"])  # the finished run is restored, not retrained: no second message
    assert "early stopping" not in capsys.readouterr().out


def final_screen(stream: str) -> list[str]:
    """What a terminal shows once ``stream`` is written: carriage returns overwrite, ESC[A moves up a line."""
    lines: list[str] = [""]
    row = column = 0
    for token in re.findall(r"\x1b\[\d*[A-Za-z]|\r|\n|[^\x1b\r\n]+", stream):
        if token == "\r":
            column = 0
        elif token == "\n":
            row, column = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif token.startswith("\x1b"):
            row = max(0, row - int(token[2:-1] or 1)) if token.endswith("A") else row
        else:
            line = lines[row].ljust(column)
            lines[row] = line[:column] + token + line[column + len(token) :]
            column += len(token)
    return [line.rstrip() for line in lines if line.strip()]


def test_demo_progress_bars_leave_no_stale_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "cadence.examples.digits", "--epochs", "2", "--no-tensorboard"]
    done = subprocess.run(
        [*command, "--output", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300
    )
    assert done.returncode == 0
    screen = final_screen(done.stdout.decode())
    assert [line.split()[0] for line in screen] == ["epoch", "epoch", "test", "curves"], screen
    assert "validation" in done.stdout.decode()  # the evaluator's bar was drawn, then cleared


def last_checkpoint(out: Path) -> dict[str, Any]:
    files = sorted((out / "checkpoints").glob("checkpoint_*.pt"), key=lambda path: int(path.stem.split("_")[1]))
    checkpoint: dict[str, Any] = torch.load(files[-1], weights_only=True)
    return checkpoint


def test_demo_async_checkpoints_hold_what_synchronous_ones_do(tmp_path: Path) -> None:
    common = ["--epochs", "2", "--quiet", "--no-tensorboard", "--save-every", "7"]
    digits.main([*common, "--output", str(tmp_path / "sync")])
    digits.main([*common, "--async-checkpoint", "--output", str(tmp_path / "async")])
    expected, got = last_checkpoint(tmp_path / "sync"), last_checkpoint(tmp_path / "async")
    assert got["trainer"]["iteration"] == expected["trainer"]["iteration"] == 68
    assert all(torch.equal(got["model"][name], tensor) for name, tensor in expected["model"].items())
    names = sorted(path.name for path in (tmp_path / "async" / "checkpoints").iterdir())
    assert names == sorted(path.name for path in (tmp_path / "sync" / "checkpoints").iterdir())  # nothing half-written


def run_demo(out: Path, *args: str) -> str:
    command = [sys.executable, "-m", "cadence.examples.digits", "--quiet", "--no-tensorboard", "--output", str(out)]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_demo_fsdp_on_two_processes_resumes_on_one(tmp_path: Path) -> None:
    run_demo(tmp_path, "--epochs", "2", "--nproc", "2", "--strategy", "fsdp", "--async-checkpoint")
    assert last_checkpoint(tmp_path)["trainer"]["iteration"] == 68  # a full state, gathered from the shards
    out = run_demo(tmp_path, "--epochs", "3", "--nproc", "1", "--resume")
    assert "at epoch 3, iteration 68" in out and "epoch  3 " in out and "epoch  2 " not in out
    assert last_checkpoint(tmp_path)["trainer"]["iteration"] == 102
    accuracy = float(out.split("test accuracy of the best model: ")[1].split("%")[0])
    assert accuracy > 85


@pytest.mark.slow
def test_demo_ddp_on_one_process_resumes_on_two(tmp_path: Path) -> None:
    run_demo(tmp_path, "--epochs", "1", "--nproc", "1", "--strategy", "ddp")
    out = run_demo(tmp_path, "--epochs", "2", "--nproc", "2", "--resume")
    assert "at epoch 2, iteration 34" in out and "epoch  2 " in out
    assert last_checkpoint(tmp_path)["trainer"]["iteration"] == 68


def test_the_demo_reads_the_digits_scikit_learn_ships_without_importing_it() -> None:
    from sklearn.datasets import load_digits

    features, targets = load_digits(return_X_y=True)
    got_features, got_targets = digits.read_digits()
    assert torch.equal(got_features, torch.tensor(features)) and torch.equal(got_targets, torch.tensor(targets))
    probe = "import sys; from cadence.examples import digits; digits.read_digits(); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"  # a restarted worker does not pay scikit-learn's import
