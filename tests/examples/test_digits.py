"""The demo trains for real: a short run must learn the digits."""

from __future__ import annotations

from cadence.examples import digits


def test_demo_learns_digits(capsys) -> None:  # type: ignore[no-untyped-def]
    history = digits.main(["--epochs", "4"])
    assert len(history["loss"]) == 4
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert "val accuracy" in capsys.readouterr().out
