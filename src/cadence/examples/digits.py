"""Train a small network on scikit-learn's bundled digits (no download): the cadence demo.

It uses the whole toolkit: supervised trainer and evaluator, metrics, progress bars, a warm-up +
cosine LR schedule, early stopping, the best model kept by validation accuracy, CSV and TensorBoard
logs (with the samples per second and the memory), checkpoints every few iterations for exact resume, and
distributed training.

    python -m cadence.examples.digits                  # train (make demo)
    python -m cadence.examples.digits --resume         # continue after Ctrl-C, kill -9 or SIGTERM
    python -m cadence.examples.digits --nproc 2        # 2 CPU processes with gloo
    python -m cadence.examples.digits --nproc 2 --strategy fsdp --async-checkpoint
    python -m cadence.examples.digits --nproc 2 --strategy fsdp --sharded-checkpoint   # each process its shards
    torchrun --nproc_per_node 2 -m cadence.examples.digits
    python -m cadence.examples.digits --output s3://bucket/run   # AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID...

Everything is written under ``--output`` (default ``runs/digits``): ``checkpoints/``, ``best/``,
``metrics.csv``, ``tensorboard/`` and ``curves.png``. With a URL (``s3://...``, needs ``cadence[s3]``), what a
resume needs (checkpoints, the best model, ``metrics.csv``) and ``curves.png`` go there; ``--resume`` continues
from it.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from cadence import Engine, Events
from cadence import distributed as dist
from cadence.engine.supervised import create_supervised_evaluator, create_supervised_trainer
from cadence.examples.curves import plot_curves, read_curves
from cadence.examples.extras import DEMO_EXTRAS, require
from cadence.examples.output import Output
from cadence.handlers import (
    Checkpoint,
    CosineAnnealingScheduler,
    EarlyStopping,
    Preemption,
    ProgressBar,
    create_lr_scheduler_with_warmup,
    global_step_from_engine,
)
from cadence.handlers.memory import MemoryMonitor
from cadence.handlers.remote import FsspecSaver, ShardedFsspecSaver
from cadence.handlers.savers import DiskSaver
from cadence.handlers.sharded import ShardedDiskSaver
from cadence.handlers.storage import CheckpointStore
from cadence.handlers.throughput import Throughput
from cadence.handlers.watchdog import Watchdog
from cadence.loggers import CSVLogger
from cadence.metrics import Accuracy, Loss, RunningAverage


def read_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's copy of the UCI digits: 1,797 8x8 images (64 values in 0..16) and their labels 0..9.

    Read from the file scikit-learn ships, without importing scikit-learn (1-2 s of every start, which a
    job restarted after each fault pays again); ``sklearn.datasets.load_digits`` gives the same numbers.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        require("sklearn.datasets")  # raises, saying how to install the demo's extras
    assert spec is not None and spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():  # a scikit-learn that keeps its data elsewhere
        features, targets = require("sklearn.datasets").load_digits(return_X_y=True)
        return torch.tensor(features, dtype=torch.float64), torch.tensor(targets, dtype=torch.long)
    with gzip.open(path, "rt") as lines:
        table = torch.tensor([[float(value) for value in line.split(",")] for line in lines], dtype=torch.float64)
    return table[:, :-1], table[:, -1].long()


def load_splits(seed: int) -> dict[str, TensorDataset]:
    """Split digits 60/20/20 into train, validation and test sets (8x8 images as 64 features in [0, 1])."""
    features, targets = read_digits()
    x = features.float() / 16.0
    y = targets
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut1, cut2 = int(0.6 * len(x)), int(0.8 * len(x))
    parts = {"train": order[:cut1], "val": order[cut1:cut2], "test": order[cut2:]}
    return {name: TensorDataset(x[idx], y[idx]) for name, idx in parts.items()}


def make_model() -> nn.Module:
    """A small MLP for 8x8 digit images."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The demo's command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20, help="most epochs (early stopping may end the run sooner)")
    parser.add_argument("--batch-size", type=int, default=32, help="global batch size (split among processes)")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate (SGD, momentum 0.9)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up iterations")
    parser.add_argument("--patience", type=int, default=6, help="early stopping patience, in epochs")
    parser.add_argument("--save-every", type=int, default=20, help="checkpoint every N iterations")
    parser.add_argument("--seed", type=int, default=0, help="decides the data split, order and initial weights")
    parser.add_argument(
        "--output",
        type=Output,
        default=Output("runs/digits"),
        help="folder (or URL, e.g. s3://bucket/run) of the checkpoints, logs and curves.png",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output")
    parser.add_argument("--nproc", type=int, default=1, help="spawn this many CPU processes (gloo)")
    parser.add_argument(
        "--strategy",
        choices=("ddp", "fsdp"),
        default="ddp",
        help="with several processes: replicate the model (ddp) or shard it with FSDP2 (fsdp)",
    )
    parser.add_argument(
        "--async-checkpoint",
        action="store_true",
        help="write checkpoints on a background thread while training goes on",
    )
    parser.add_argument(
        "--sharded-checkpoint",
        action="store_true",
        help="checkpoints as torch.distributed.checkpoint folders, each process writing its own shards",
    )
    parser.add_argument(
        "--tensorboard", action=argparse.BooleanOptionalAction, default=True, help="also write TensorBoard logs"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--preemption",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="on SIGTERM/SIGUSR1 save a checkpoint of the current iteration and exit (status 128 + signal)",
    )
    parser.add_argument(
        "--watchdog",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="end the workers (to be restarted, e.g. by torchrun --max-restarts) when a rank stops progressing",
    )
    parser.add_argument(
        "--watchdog-floor",
        type=float,
        default=120.0,
        help="seconds without progress that the watchdog always allows (it allows 20 step times when longer)",
    )
    parser.add_argument(
        "--slurm-requeue",
        action="store_true",
        help="under SLURM, a preempted run requeues its job (scontrol requeue) once its checkpoint is saved",
    )
    return parser.parse_args(argv)


SAMPLES_PER_S, RSS_MIB = "throughput/samples_per_s", "memory/rss_mib"  # measured every 10 iterations


def attach_logging(args: argparse.Namespace, trainer: Engine[Any], evaluator: Engine[Any], optimizer: Any) -> list[Any]:
    """CSV (and TensorBoard) logs of the training loss, speed and memory, learning rate and validation metrics.

    Every value's step is the trainer's iteration; the CSV has one row per step (columns ``step``,
    ``train/loss``, ``train/throughput/samples_per_s``, ``train/memory/rss_mib``, ``train/epoch``,
    ``lr/group_0``, ``val/accuracy``, ``val/loss``). A resumed run replays the iterations after its
    checkpoint: the CSV logger drops their old rows, TensorBoard hides them (``purge_step``). The speed and
    memory columns are measured (wall-clock time, this process's resident memory): they differ from run to run,
    the others do not.
    """
    if args.resume and dist.get_rank() == 0:
        args.output.pull("metrics.csv")  # the rows up to (at least) the newest checkpoint's step
    loggers: list[Any] = [CSVLogger(csv_path_of(args), append=args.resume, one_row_per_step=True)]
    if args.tensorboard:
        try:
            from cadence.loggers import TensorboardLogger

            purge = {"purge_step": trainer.state.iteration + 1} if args.resume else {}
            loggers.append(TensorboardLogger(log_dir=args.output.local / "tensorboard", **purge))
        except ImportError as exc:  # tensorboard is an optional extra
            print(f"TensorBoard logging skipped: {exc}")
    for logger in loggers:
        logger.attach_output_handler(
            trainer,
            Events.ITERATION_COMPLETED(every=10),
            "train",
            metric_names=["loss", SAMPLES_PER_S, RSS_MIB],
            state_attributes=["epoch"],
        )
        logger.attach_opt_params_handler(trainer, Events.ITERATION_COMPLETED(every=10), optimizer)
        logger.attach_output_handler(
            evaluator,
            Events.COMPLETED,
            "val",
            metric_names="all",
            global_step_transform=lambda *_: trainer.state.iteration,
        )
    return loggers


def validation_and_stopping(
    args: argparse.Namespace, trainer: Engine[Any], evaluator: Engine[Any], val_loader: Any, model: nn.Module
) -> tuple[EarlyStopping, Checkpoint]:
    """Validate after each epoch; stop early on a validation-accuracy plateau; keep the best model."""

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine: Engine[Any]) -> None:
        metrics = evaluator.run(val_loader).metrics
        engine.state.history["loss"].append(engine.state.metrics["loss"])
        engine.state.history["val_accuracy"].append(metrics["accuracy"])
        say(
            f"epoch {engine.state.epoch:2d}  train loss {engine.state.metrics['loss']:.4f}  "
            f"val loss {metrics['loss']:.4f}  val accuracy {metrics['accuracy']:.2%}"
        )

    def accuracy(engine: Engine[Any]) -> float:
        return float(engine.state.metrics["accuracy"])

    early_stopping = EarlyStopping(args.patience, accuracy, trainer)
    evaluator.add_event_handler(Events.COMPLETED, early_stopping)
    best = Checkpoint(
        {"model": model},
        store(args.output.best, sharded=False),
        score_function=accuracy,
        score_name="val_accuracy",
        global_step_transform=global_step_from_engine(trainer),
    )
    evaluator.add_event_handler(Events.COMPLETED, best)
    return early_stopping, best


def store(location: str | Path, *, sharded: bool) -> CheckpointStore:
    """The checkpoint store of ``location`` (a folder or a URL), reusing what an earlier run left there."""
    if isinstance(location, str):
        return (ShardedFsspecSaver if sharded else FsspecSaver)(location, require_empty=False)
    return (ShardedDiskSaver if sharded else DiskSaver)(location, require_empty=False)


def say(message: str) -> None:
    """Print ``message`` on rank 0, above any progress bar (which is redrawn below it, leaving no stale line)."""
    if dist.get_rank() == 0:
        from tqdm import tqdm

        tqdm.write(message)
        sys.stdout.flush()


def note_early_stop(trainer: Engine[Any], early_stopping: EarlyStopping) -> None:
    """Record in the trainer's state whether early stopping ended the run, and say once why it did."""
    if early_stopping.counter < early_stopping.patience or not trainer.should_terminate:
        return
    trainer.state.stopped_early = True
    accuracies = trainer.state.history["val_accuracy"]
    best_epoch = 1 + accuracies.index(max(accuracies))
    say(
        f"early stopping after epoch {trainer.state.epoch}: validation accuracy has not improved for "
        f"{early_stopping.patience} epochs (--patience {early_stopping.patience}); "
        f"best {early_stopping.best_score:.2%} at epoch {best_epoch}"
    )


def training(local_rank: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train, validate and test in this process (one of several in a distributed run)."""
    splits = load_splits(args.seed)
    train_loader = dist.auto_dataloader(splits["train"], batch_size=args.batch_size, seed=args.seed)
    torch.manual_seed(args.seed)
    model = dist.auto_model(make_model(), strategy=args.strategy)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    device = dist.device()  # where auto_model put the model: batches follow it (a GPU when there is one)
    trainer = create_supervised_trainer(model, optimizer, loss_fn, device, deterministic=True, seed=args.seed)
    metrics = {"accuracy": Accuracy(), "loss": Loss(loss_fn)}
    evaluator = create_supervised_evaluator(model, metrics=metrics, device=device)

    decay = max(args.epochs * len(train_loader) - args.warmup, 2)  # a run shorter than its warm-up still runs
    cosine = CosineAnnealingScheduler(optimizer, "lr", args.lr, 0.0, decay)
    scheduler = create_lr_scheduler_with_warmup(cosine, 0.0, args.warmup, args.lr)
    trainer.add_event_handler(Events.ITERATION_STARTED, scheduler)
    running_loss = RunningAverage(output_transform=lambda loss: loss)
    running_loss.attach(trainer, "loss")
    trainer.state.history = {"loss": [], "val_accuracy": []}
    trainer.state.stopped_early = False
    trainer.state_dict_user_keys += ["history", "stopped_early"]
    val_loader = dist.auto_dataloader(splits["val"], batch_size=256)
    early_stopping, best = validation_and_stopping(args, trainer, evaluator, val_loader, model)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer, "lr_scheduler": scheduler}
    to_save |= {"running_loss": running_loss, "early_stopping": early_stopping, "best": best}
    # Checkpoints hold full (unsharded) states, or shards that DCP reshards on load (--sharded-checkpoint), so
    # --resume works with any --nproc and either --strategy.
    saver = store(args.output.checkpoints, sharded=args.sharded_checkpoint)
    checkpoints = Checkpoint(to_save, saver, n_saved=2, async_save=args.async_checkpoint)
    if args.resume:
        resumed = Checkpoint.resume(to_save, saver)
        if dist.get_rank() == 0:
            where = f"epoch {trainer.state.epoch + 1}, iteration {trainer.state.iteration}"
            print(f"resumed from {resumed} at {where}" if resumed else "no checkpoint found: starting afresh")
    # Speed and memory every 10 iterations, in engine.state.metrics: measured before the loggers read them.
    Throughput(every=10).attach(trainer)
    MemoryMonitor(every=10).attach(trainer)
    loggers = attach_logging(args, trainer, evaluator, optimizer)
    if not args.quiet:
        ProgressBar(persist=False).attach(trainer, metric_names=["loss", SAMPLES_PER_S])
        ProgressBar(persist=False, desc="validation").attach(evaluator)
    # Checkpoints come after the logging and validation of their step, so a resumed run replays exactly what was
    # logged after them; an epoch's last iteration is saved once its validation ran (at EPOCH_COMPLETED).
    epoch_length = len(train_loader)
    mid_epoch = Events.ITERATION_COMPLETED(
        event_filter=lambda _, i: i % args.save_every == 0 and i % epoch_length != 0
    )  # fmt: skip
    trainer.add_event_handler(Events.EPOCH_COMPLETED, note_early_stop, early_stopping)
    if args.output.remote and dist.get_rank() == 0:  # the log's copy first: it then has every row a resume needs
        trainer.add_event_handler(mid_epoch | Events.EPOCH_COMPLETED, lambda _: args.output.push("metrics.csv"))
    trainer.add_event_handler(mid_epoch | Events.EPOCH_COMPLETED, checkpoints)
    if args.watchdog:  # a rank that stops progressing (frozen, hung) ends the workers: the launcher restarts them
        Watchdog(floor=args.watchdog_floor, cap=max(600.0, args.watchdog_floor)).attach(trainer, evaluator)
    if args.preemption:  # SIGTERM/SIGUSR1 (a scheduler's notice): save this iteration and exit
        Preemption(checkpoints, requeue_slurm_job=args.slurm_requeue).attach(trainer)
    if trainer.state.stopped_early or trainer.state.epoch >= args.epochs:  # resumed a finished run: nothing to train
        if dist.get_rank() == 0:
            print("the run had finished: no training left")
    else:
        trainer.run(train_loader, max_epochs=args.epochs)
    for logger in loggers:
        logger.close()
    test_accuracy = test(model, best, splits["test"])
    if dist.get_rank() == 0:
        args.output.push("metrics.csv")
        curves = read_curves(csv_path_of(args), epoch_length)
        stopped_at = trainer.state.epoch if trainer.state.stopped_early else None
        plot_curves(curves, args.output.local / "curves.png", stopped_at=stopped_at, patience=args.patience)
        args.output.push("curves.png")
        print(f"curves written to {args.output.describe('curves.png')}")
    return {**trainer.state.history, "test_accuracy": test_accuracy}


def csv_path_of(args: argparse.Namespace) -> Path:
    """The local file of the run's CSV log."""
    return Path(args.output.local) / "metrics.csv"


def test(model: nn.Module, best: Checkpoint, test_set: TensorDataset) -> float:
    """Accuracy of the best checkpointed model on the test set."""
    if best.last_checkpoint is not None:
        dist.barrier()  # rank 0 writes the file (without waiting for the others): let it finish first
        Checkpoint.load_objects({"model": model}, best.last_checkpoint)
    tester = create_supervised_evaluator(model, metrics={"accuracy": Accuracy()}, device=dist.device())
    accuracy = float(tester.run(dist.auto_dataloader(test_set, batch_size=256)).metrics["accuracy"])
    if dist.get_rank() == 0:
        print(f"test accuracy of the best model: {accuracy:.2%}")
    return accuracy


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Run the demo in this process, in ``--nproc`` spawned processes, or as one process of torchrun."""
    args = parse_args(argv)
    try:  # before any training: a missing extra must not be found at the end of a run
        for module in DEMO_EXTRAS:
            require(module)
    except ModuleNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    if not args.resume and os.environ.get("RANK", "0") == "0":  # a fresh run must not resume an old run's files
        args.output.clear()
    under_torchrun = "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ
    if args.nproc > 1 or under_torchrun:
        with dist.Parallel(backend="gloo", nproc_per_node=None if under_torchrun else args.nproc) as parallel:
            parallel.run(training, args)
        return None
    return training(0, args)


if __name__ == "__main__":
    main()
