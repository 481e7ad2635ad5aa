"""A tiny real training run shared by the logger tests."""

from __future__ import annotations

from typing import Any

import torch

from cadence import Engine


def make_training(batches: int = 6) -> tuple[Engine[float], torch.nn.Module, torch.optim.Optimizer, list[Any]]:
    """A linear model fitted by SGD: the trainer's output is the loss as a float."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(batches)]

    def step(engine: Engine[float], batch: Any) -> float:
        x, y = batch
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return Engine(step), model, optimizer, data
