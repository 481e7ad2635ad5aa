"""A training run that the exact-resume tests kill with SIGKILL and resume in a new process.

It uses every source of state a real run has: random augmentation in the dataset, dropout, shuffled
batches (``reproducible_dataloader``), gradient accumulation, momentum, an LR scheduler stepped per
iteration, and checkpoints every ``--save-every`` iterations. At the end it writes ``final.pt``
(model and optimizer state) for the test to compare. With ``--compile`` the model runs through
``torch.compile`` (compiled afresh by each process, the resumed one too) and is checkpointed compiled.

    python train_script.py OUT [--workers N] [--kill-at K] [--kill-in-save K] [--nproc 2] [--compile]
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from cadence import DeterministicEngine, Events
from cadence.data import reproducible_dataloader
from cadence.engine.supervised import supervised_training_step
from cadence.handlers import Checkpoint, DiskSaver

EPOCHS, BATCH, ACCUMULATE, SEED = 3, 8, 2, 17


class NoisyBlobs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Two Gaussian blobs; each read adds fresh noise (random augmentation)."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.y = torch.randint(0, 2, (100,), generator=generator)
        self.x = torch.randn(100, 6, generator=generator) + self.y[:, None] * 2.0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index] + 0.3 * torch.randn(6), self.y[index]


def kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def train(rank: int, args: argparse.Namespace) -> None:
    out = Path(args.out)
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    torch.manual_seed(SEED)
    model: nn.Module = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.8)
    data = reproducible_dataloader(NoisyBlobs(), BATCH, seed=SEED, num_workers=args.workers)
    run: nn.Module = torch.compile(model) if args.compile else model  # type: ignore[assignment]  # a Module
    step = supervised_training_step(run, optimizer, nn.CrossEntropyLoss(), gradient_accumulation_steps=ACCUMULATE)
    trainer = DeterministicEngine(step, seed=SEED)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=ACCUMULATE), lambda: scheduler.step())
    to_save = {"model": run, "optimizer": optimizer, "scheduler": scheduler, "trainer": trainer}
    checkpoint = Checkpoint(to_save, DiskSaver(out / "checkpoints", require_empty=False), n_saved=2)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=args.save_every), checkpoint)

    if args.kill_at and rank == 0:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=args.kill_at), kill_now)
    if args.kill_in_save and rank == 0:
        real_replace = os.replace

        def replace_then_die(source: Any, target: Any) -> None:
            if trainer.state.iteration == args.kill_in_save:
                kill_now()  # the temp file is written, the rename never happens
            real_replace(source, target)

        os.replace = replace_then_die  # type: ignore[assignment]
    if args.resume:
        resumed = Checkpoint.resume(to_save, out / "checkpoints")
        if rank == 0:
            print(f"resumed from {resumed}", flush=True)
    trainer.run(data, max_epochs=EPOCHS)
    if rank == 0:
        inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        torch.save({"model": inner.state_dict(), "optimizer": optimizer.state_dict()}, out / "final.pt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=2)
    parser.add_argument("--kill-at", type=int, default=0)
    parser.add_argument("--kill-in-save", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    if args.nproc > 1:
        from cadence.distributed import Parallel

        with Parallel(backend="gloo", nproc_per_node=args.nproc) as parallel:
            parallel.run(train, args)
    else:
        train(0, args)


if __name__ == "__main__":
    main()
