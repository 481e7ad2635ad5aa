"""Ignite's ``contrib.engines`` paths: the truncated-BPTT trainer and the one-call setups."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from cadence.contrib.engines import Tbptt_Events, common, create_supervised_tbptt_trainer
from cadence.handlers import common as handlers_common
from cadence.handlers import logger_utils
from cadence.metrics import GpuInfo


def test_common_is_the_handlers_setups() -> None:
    assert common.setup_common_training_handlers is handlers_common.setup_common_training_handlers
    assert common.setup_common_distrib_training_handlers is handlers_common.setup_common_training_handlers
    assert common.setup_tb_logging is logger_utils.setup_tb_logging
    assert common.GpuInfo is GpuInfo
    assert (
        common.get_default_score_fn("acc", -1.0)(type("E", (), {"state": type("S", (), {"metrics": {"acc": 2}})})) == -2
    )


class Recording(nn.Module):
    """An RNN that records whether the hidden state it was given carries a graph."""

    def __init__(self, cell: type[nn.RNNBase]) -> None:
        super().__init__()
        self.rnn = cell(1, 1)
        self.calls: list[tuple[int, bool]] = []

    def forward(self, x: torch.Tensor, hidden: Any = None) -> Any:
        if hidden is None:
            self.calls.append((x.shape[0], False))
            return self.rnn(x)
        parts = hidden if isinstance(hidden, tuple) else (hidden,)
        self.calls.append((x.shape[0], any(part.grad_fn is not None for part in parts)))
        return self.rnn(x, hidden)


@pytest.mark.parametrize("cell", [nn.RNN, nn.LSTM])
def test_tbptt_trainer_steps_once_per_chunk_with_detached_hidden_state(cell: type[nn.RNNBase]) -> None:
    torch.manual_seed(0)
    model = Recording(cell)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = create_supervised_tbptt_trainer(model, optimizer, nn.functional.mse_loss, tbtt_step=2)
    chunk_losses: list[float] = []
    started: list[int] = []
    trainer.add_event_handler(Tbptt_Events.TIME_ITERATION_STARTED, lambda: started.append(1))
    trainer.add_event_handler(Tbptt_Events.TIME_ITERATION_COMPLETED, lambda e: chunk_losses.append(e.state.output))
    state = trainer.run([(torch.ones(5, 3, 1), torch.zeros(5, 3, 1))])
    assert model.calls == [(2, False), (2, False), (1, False)]
    assert len(started) == len(chunk_losses) == 3
    assert state.output == pytest.approx(sum(chunk_losses) / 3)


def test_tbptt_trainer_splits_along_the_given_dimension() -> None:
    model = Recording(nn.RNN)
    model.rnn = nn.RNN(1, 1, batch_first=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = create_supervised_tbptt_trainer(model, optimizer, nn.functional.mse_loss, tbtt_step=3, dim=1)
    trainer.run([(torch.ones(2, 6, 1), torch.zeros(2, 6, 1))])
    assert [length for length, _ in model.calls] == [2, 2]


def test_tbptt_step_must_be_positive() -> None:
    model = nn.RNN(1, 1)
    with pytest.raises(ValueError, match="tbtt_step"):
        create_supervised_tbptt_trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), 0)
