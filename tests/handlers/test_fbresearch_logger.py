"""FBResearchLogger: the progress, epoch and run lines it writes during real runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers.fbresearch_logger import FBResearchLogger


class Lines:
    """A stand-in for logging.Logger that keeps what info() received."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def test_lines_of_a_two_epoch_run() -> None:
    lines = Lines()
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD([{"params": [model.weight], "lr": 0.1}, {"params": [model.bias], "lr": 0.01}])
    trainer: Engine[Any] = Engine(lambda e, b: {"loss": 0.25 * b})
    trainer.state.alpha = 2.0
    logger = FBResearchLogger(lines, delimiter=" | ", show_output=True)
    logger.attach(trainer, "Train", every=2, state_attributes=["alpha"], optimizer=optimizer)
    trainer.run([1, 2, 3, 4], max_epochs=2)
    progress = [line for line in lines.lines if line.startswith("Epoch")]
    assert [line.split(" | ")[:2] for line in progress] == [
        ["Epoch [1/2]", "[2/4]:"],
        ["Epoch [1/2]", "[4/4]:"],
        ["Epoch [2/2]", "[2/4]:"],
        ["Epoch [2/2]", "[4/4]:"],
    ]
    assert "lr [g0]: 0.10000 lr [g1]: 0.01000" in progress[0]
    assert "loss: 0.5000" in progress[0] and "alpha: 2.0000" in progress[0]
    assert re.search(r"Iter time: \d+\.\d{4} s \| Data prep time: \d+\.\d{4} s", progress[0])
    assert lines.lines[0] == "Train: start epoch [1/2]"
    assert re.fullmatch(r"Train: Epoch \[1/2\] \| Total time: 0:00:00 \| \(\d+\.\d{4} s / it\)", lines.lines[3])
    assert lines.lines[-1] == "Train: run completed | Total time: 0:00:00"


def test_one_epoch_run_has_no_run_summary_and_output_transform_applies() -> None:
    lines = Lines()
    trainer: Engine[Any] = Engine(lambda e, b: 42)
    FBResearchLogger(lines, show_output=True).attach(trainer, "T", output_transform=lambda out: {"loss": out})
    trainer.run([0], max_epochs=1)
    assert len(lines.lines) == 3
    assert "loss: 42.0000" in lines.lines[1]
    assert lines.lines[2].startswith("T:   Total time")


def test_output_hidden_unless_asked() -> None:
    lines = Lines()
    trainer: Engine[Any] = Engine(lambda e, b: 0.123)
    FBResearchLogger(lines).attach(trainer, "T")
    trainer.run([0])
    assert "0.1230" not in lines.lines[1]


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"logging\.Logger"):
        FBResearchLogger(print)
    trainer: Engine[Any] = Engine(lambda e, b: None)
    with pytest.raises(ValueError, match="every"):
        FBResearchLogger(Lines()).attach(trainer, "T", every=0)
    with pytest.raises(TypeError, match="output_transform"):
        FBResearchLogger(Lines()).attach(trainer, "T", output_transform=3)  # type: ignore[arg-type]


def test_attached_handler_is_found_on_the_engine() -> None:
    trainer: Engine[Any] = Engine(lambda e, b: None)
    logger = FBResearchLogger(Lines())
    logger.attach(trainer, "T", every=3)
    assert trainer.has_event_handler(logger.log_every, Events.ITERATION_COMPLETED)
