"""A training run with bad samples, whose NaN and spiking losses SpikeRollback undoes; the exact-resume tests
kill it (SIGKILL) after rollbacks and resume it in a new process.

Its state is train_script.py's (random augmentation, dropout, shuffled batches, gradient accumulation, momentum,
an LR scheduler, checkpoints every ``--save-every`` iterations), plus the SpikeRollback handler, saved with the
rest. A few samples of the data set are poisoned: one has a NaN feature, two are scaled far out of range (a
spike). At the end it writes ``final.pt`` (model, optimizer and the rollbacks) for the test to compare.

    python spike_script.py OUT [--snapshot-every K | --from-checkpoint] [--kill-at K] [--kill-in-step K] [--resume]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cadence import DeterministicEngine, Events
from cadence.data import reproducible_dataloader
from cadence.engine.supervised import supervised_training_step
from cadence.handlers import Checkpoint, DiskSaver
from cadence.handlers.spikes import MeanStdSpike, SpikeRollback

# its sibling gives the same data and the same kill; imported by path when run as a script, as a package
# module when pytest's doctest collection imports this file
if __package__:
    from .train_script import ACCUMULATE, BATCH, EPOCHS, SEED, NoisyBlobs, kill_now
else:
    from train_script import ACCUMULATE, BATCH, EPOCHS, SEED, NoisyBlobs, kill_now

NAN_SAMPLES, SPIKE_SAMPLES = {13}, {40, 77}


class PoisonedBlobs(NoisyBlobs):
    """train_script.py's noisy blobs, with a few poisoned samples."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().__getitem__(index)
        if index in NAN_SAMPLES:
            x[0] = float("nan")
        elif index in SPIKE_SAMPLES:
            x = x * 40.0
        return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--save-every", type=int, default=2)
    parser.add_argument("--snapshot-every", type=int, default=1)
    parser.add_argument("--from-checkpoint", action="store_true")
    parser.add_argument("--kill-at", type=int, default=0)
    parser.add_argument("--kill-in-step", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)

    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.8)
    data = reproducible_dataloader(PoisonedBlobs(), BATCH, seed=SEED)
    inner = supervised_training_step(model, optimizer, nn.CrossEntropyLoss(), gradient_accumulation_steps=ACCUMULATE)

    def step(engine: Any, batch: Any) -> Any:
        output = inner(engine, batch)
        if engine.state.iteration == args.kill_in_step:
            kill_now()  # after the optimizer step, before the loss is judged
        return output

    trainer = DeterministicEngine(step, seed=SEED)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=ACCUMULATE), lambda: scheduler.step())
    folder = out / "checkpoints"
    spikes = SpikeRollback(
        {"model": model, "optimizer": optimizer},
        rule=MeanStdSpike(k=4.0),
        window=8,
        warmup=4,
        snapshot_every=args.snapshot_every,
        restore_from=folder if args.from_checkpoint else None,
    )
    spikes.attach(trainer)  # before the checkpoint: a bad step is undone before it can be saved
    if args.kill_at:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=args.kill_at), kill_now)  # judged, not saved
    to_save = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "trainer": trainer, "spikes": spikes}
    checkpoint = Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=2)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=args.save_every), checkpoint)
    if args.resume:
        print(f"resumed from {Checkpoint.resume(to_save, folder)}", flush=True)
    trainer.run(data, max_epochs=EPOCHS)
    rollbacks = [(r.iteration, r.reason.value, r.restored_to) for r in spikes.rollbacks]
    print(f"rollbacks {rollbacks}", flush=True)
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rollbacks": rollbacks}, out / "final.pt"
    )


if __name__ == "__main__":
    main()
