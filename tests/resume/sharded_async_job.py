"""Train a model of a few million parameters with an asynchronous sharded checkpoint at every iteration,
printing each completed save, until killed (``tests/resume/test_sharded_async_kill.py`` kills it)."""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers import Checkpoint, ShardedDiskSaver
from cadence.handlers.checkpoint import CheckpointEvents


def build() -> tuple[nn.Module, torch.optim.Optimizer, Engine[Any]]:
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(768, 768) for _ in range(4)])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(engine: Engine[Any], _: Any) -> None:
        optimizer.zero_grad()
        model(torch.randn(4, 768)).square().mean().backward()
        optimizer.step()

    return model, optimizer, Engine(step)


if __name__ == "__main__":
    model, optimizer, trainer = build()
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    checkpoint = Checkpoint(to_save, ShardedDiskSaver(sys.argv[1], require_empty=False), n_saved=2, async_save=True)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    Checkpoint.resume(to_save, sys.argv[1])
    trainer.register_events(*CheckpointEvents)
    trainer.add_event_handler(
        Checkpoint.SAVED_CHECKPOINT, lambda engine: print("saved", checkpoint.last_checkpoint, flush=True)
    )
    trainer.run(range(10), max_epochs=1000)
