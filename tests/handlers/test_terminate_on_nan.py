import math
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine.supervised import create_supervised_trainer
from cadence.handlers.terminate_on_nan import TerminateOnNan


def test_diverging_training_is_stopped() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    data = [(torch.randn(8, 3) * 100, torch.randn(8, 1)) for _ in range(4)]
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=10.0), nn.MSELoss())
    trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
    state = trainer.run(data, max_epochs=50)
    assert not math.isfinite(state.output)
    assert state.iteration < 200


@pytest.mark.parametrize(
    ("outputs", "stop_at"),
    [
        ([1.0, 2.0, float("nan"), 3.0], 3),
        ([torch.ones(2), torch.tensor([1.0, float("inf")]), torch.ones(2)], 2),
        ([{"loss": 1.0, "parts": [torch.ones(1), 2]}, {"loss": 1.0, "parts": [torch.tensor([-math.inf]), 2]}], 2),
        ([torch.arange(3), "text", None, (1, 2), complex(1, 2)], 5),  # integers and non-numbers are fine
        ([1.0, complex(float("nan"), 0)], 2),
    ],
)
def test_stops_on_first_non_finite_output(outputs: list[Any], stop_at: int) -> None:
    engine: Engine[Any] = Engine(lambda engine, batch: batch)
    engine.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
    assert engine.run(outputs).iteration == stop_at


def test_output_transform_chooses_what_is_checked() -> None:
    engine: Engine[Any] = Engine(lambda engine, batch: batch)
    engine.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan(output_transform=lambda out: out[1]))
    assert engine.run([(float("nan"), 1.0), (1.0, float("nan")), (1.0, 1.0)]).iteration == 2


def test_bad_output_transform() -> None:
    with pytest.raises(TypeError, match="output_transform must be callable"):
        TerminateOnNan(output_transform=3)  # type: ignore[arg-type]
