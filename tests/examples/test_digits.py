"""The demo trains for real and writes what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadence.examples import digits


def test_demo_learns_digits_and_writes_its_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = digits.main(["--epochs", "5", "--quiet", "--output", str(tmp_path)])
    assert result is not None
    assert len(result["loss"]) == 5 and result["loss"][-1] < result["loss"][0]
    assert result["test_accuracy"] > 0.9
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert len(list((tmp_path / "best").glob("model_*_val_accuracy=*.pt"))) == 1
    assert len(list((tmp_path / "checkpoints").glob("checkpoint_*.pt"))) == 2
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header.split(",")[:2] == ["event", "step"] and "val/accuracy" in header
    out = capsys.readouterr().out
    assert "val accuracy" in out and "test accuracy of the best model" in out


def test_demo_resume_continues_a_finished_run_without_retraining(tmp_path: Path) -> None:
    digits.main(["--epochs", "2", "--quiet", "--no-tensorboard", "--output", str(tmp_path)])
    result = digits.main(["--epochs", "3", "--quiet", "--no-tensorboard", "--resume", "--output", str(tmp_path)])
    assert result is not None and len(result["loss"]) == 3  # epochs 1-2 restored from the checkpoint, 3 trained


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
