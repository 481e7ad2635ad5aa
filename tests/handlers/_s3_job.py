"""A training run that checkpoints a 16 MB model to an S3 URL every iteration, saying when each save starts.

``python _s3_job.py URL STEPS [--async]``: the model's weight is ``step`` after ``step`` iterations (each adds 1),
so any checkpoint can be checked against the step in its name. The endpoint and credentials come from the
environment (``AWS_ENDPOINT_URL``...).
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers import Checkpoint, FsspecSaver


def main() -> None:
    url, steps = sys.argv[1], int(sys.argv[2])
    model = nn.Linear(2048, 2048, bias=False)
    torch.nn.init.zeros_(model.weight)
    trainer: Engine[None] = Engine(lambda engine, batch: model.weight.data.add_(1.0))
    checkpoint = Checkpoint(
        {"model": model, "trainer": trainer},
        FsspecSaver(url, require_empty=False),
        n_saved=2,
        async_save="--async" in sys.argv[3:],
    )
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: print(f"saving {e.state.iteration}", flush=True))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    Checkpoint.resume({"model": model, "trainer": trainer}, url)
    trainer.run(range(steps), max_epochs=1)
    print("done", flush=True)


if __name__ == "__main__":
    main()
