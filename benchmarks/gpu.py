"""Training throughput on a GPU: cadence's ``create_supervised_trainer`` beside a hand-written loop and Ignite 0.5.5.

A ResNet-18-shaped model (BasicBlocks, about 11M parameters, for 32x32 inputs) trains on images generated on the
device once (no dataset, no data loader), in ``channels_last``, under autocast (bf16; fp16 with a ``GradScaler``;
or fp32 without autocast). The contenders run the same step in one process:

- ``hand-written loop``: autocast, loss, (scaled) backward, optimizer step, ``zero_grad(set_to_none=True)``;
- ``cadence trainer`` / ``ignite trainer``: ``create_supervised_trainer`` alone, its output the loss tensor
  (``loss.detach()``, not the default ``loss.item()``, which waits for the GPU at every iteration);
- ``... + handlers``: the usual handlers too: a progress bar showing the running average of the loss, a
  ``RunningAverage`` of the loss, an ``Accuracy`` on the training output and a ``Checkpoint`` of model and
  optimizer every ``--checkpoint-every`` iterations (cadence's with ``async_save=True``).

The contenders are interleaved in rounds after a warm-up; each timing starts and ends with
``torch.cuda.synchronize()``. The tables give samples/s (median over rounds, and the spread max-min over the
median), each contender against the hand-written loop, and cadence's share of the step,
``(cadence time - hand-written time) / hand-written time``. The goal is a share under 0.5% for the bare trainer.
Every table names the card it ran on.

Run: ``.venv/bin/python benchmarks/gpu.py [--dtype bf16,fp16] [--batch 256] [--steps 100] [--rounds 5]``;
``--device cpu --tiny`` is a smoke run of a few seconds (fp32 or bf16 only).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.nn import functional

Batch = tuple[torch.Tensor, torch.Tensor]
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (a 1x1 convolution where the shape changes)."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = functional.relu(self.bn1(self.conv1(x)))
        return functional.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 images: a 3x3 stem, four stages of two BasicBlocks, global pooling, a linear head."""

    def __init__(self, width: int = 64, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks: list[nn.Module] = []
        inputs = width
        for stage in range(4):
            outputs = width * 2**stage
            blocks += [BasicBlock(inputs, outputs, 1 if stage == 0 else 2), BasicBlock(outputs, outputs, 1)]
            inputs = outputs
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(inputs, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = functional.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1)
        logits: torch.Tensor = self.head(torch.flatten(features, 1))
        return logits


class Setup:
    """What every contender is given: the device, the data, the autocast dtype and a fresh model and optimizer."""

    def __init__(self, args: argparse.Namespace, dtype: torch.dtype | None) -> None:
        self.device = torch.device(args.device)
        self.dtype = dtype
        self.width = 8 if args.tiny else 64
        self.checkpoint_every: int = args.checkpoint_every or max(1, args.steps // 2)
        channels_last = torch.channels_last
        generator = torch.Generator(device="cpu").manual_seed(0)
        batches = [
            (
                torch.randn(args.batch, 3, 32, 32, generator=generator).to(self.device, memory_format=channels_last),
                torch.randint(0, 10, (args.batch,), generator=generator).to(self.device),
            )
            for _ in range(4)
        ]
        self.warmup = [batches[i % len(batches)] for i in range(args.warmup)]
        self.data = [batches[i % len(batches)] for i in range(args.steps)]

    def model_and_optimizer(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = ResNet18(self.width).to(self.device)
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs leave out memory_format
        fused = self.device.type == "cuda" or None  # fused: the scaler's step need not read found-inf on the host
        return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=fused)

    def autocast(self) -> AbstractContextManager[Any]:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device.type) if self.dtype == torch.float16 else None


Contender = Callable[[list[Batch]], None]


def hand_written(setup: Setup) -> Contender:
    model, optimizer = setup.model_and_optimizer()
    scaler = setup.scaler()
    loss_fn = nn.CrossEntropyLoss()

    def run(data: list[Batch]) -> None:
        model.train()
        for x, y in data:
            with setup.autocast():
                loss = loss_fn(model(x), y)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return run


def loss_tensor(x: Any, y: Any, y_pred: Any, loss: torch.Tensor) -> torch.Tensor:
    return loss.detach()


def loss_prediction_target(x: Any, y: Any, y_pred: Any, loss: torch.Tensor) -> tuple[torch.Tensor, Any, Any]:
    return loss.detach(), y_pred.detach(), y


def trainer(setup: Setup, library: str, handlers: bool, folder: str) -> Contender:
    """``create_supervised_trainer`` of cadence or Ignite, bare or with the usual handlers; a fresh engine per run."""
    model, optimizer = setup.model_and_optimizer()
    scaler = setup.scaler()
    loss_fn: Callable[[Any, Any], torch.Tensor] = nn.CrossEntropyLoss()
    output_transform = loss_prediction_target if handlers else loss_tensor
    devnull = open(os.devnull, "w")  # noqa: SIM115  # the bars' stream, open for the whole benchmark
    engines: Any = importlib.import_module(f"{library}.engine")  # the same names in both libraries
    handlers_module: Any = importlib.import_module(f"{library}.handlers")
    metrics: Any = importlib.import_module(f"{library}.metrics")
    if library == "cadence":
        amp: dict[str, Any] = {"amp_mode": "amp", "amp_dtype": setup.dtype, "scaler": scaler or False}
    else:
        amp = {"amp_mode": "amp", "scaler": scaler} if scaler is not None and setup.device.type == "cuda" else {}
        if not amp and setup.dtype is not None:  # Ignite's amp_mode="amp" is float16 on CUDA only
            model_call, loss_call = model, loss_fn
            amp = {"model_fn": lambda m, x: _autocast_call(setup, model_call, x)}
            loss_fn = lambda y_pred, y: _autocast_call(setup, loss_call, y_pred, y)  # noqa: E731
    if setup.dtype is None:
        amp = {}

    saves = 0  # the checkpoints' global step goes on across runs, as in a longer training: every save is kept

    def step_so_far(engine: Any, event: Any) -> int:
        return saves + int(engine.state.iteration)

    def run(data: list[Batch]) -> None:
        nonlocal saves
        engine = engines.create_supervised_trainer(
            model, optimizer, loss_fn, device=setup.device, output_transform=output_transform, **amp
        )
        checkpoint = None
        if handlers:
            metrics.RunningAverage(output_transform=lambda out: out[0]).attach(engine, "loss")
            metrics.Accuracy(output_transform=lambda out: (out[1], out[2])).attach(engine, "accuracy")
            handlers_module.ProgressBar(file=devnull).attach(engine, metric_names=["loss"])
            to_save = {"model": model, "optimizer": optimizer}
            saver = handlers_module.DiskSaver(folder, require_empty=False)
            options = {"async_save": True} if library == "cadence" else {}
            checkpoint = handlers_module.Checkpoint(
                to_save, saver, n_saved=1, global_step_transform=step_so_far, **options
            )
            engine.add_event_handler(engines.Events.ITERATION_COMPLETED(every=setup.checkpoint_every), checkpoint)
        engine.run(data, max_epochs=1)
        if checkpoint is not None and hasattr(checkpoint, "wait"):
            checkpoint.wait()  # an asynchronous save in flight is part of the run's time
        saves += len(data)

    return run


def _autocast_call(setup: Setup, fn: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
    with setup.autocast():
        return fn(*args)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(setup: Setup, contenders: dict[str, Contender], rounds: int) -> dict[str, list[float]]:
    """Warm each contender up, then time it once per round, interleaved; returns seconds per run."""
    for run in contenders.values():
        run(setup.warmup)
    synchronize(setup.device)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            synchronize(setup.device)
            start = time.perf_counter()
            run(setup.data)
            synchronize(setup.device)
            times[name].append(time.perf_counter() - start)
    return times


def card_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def table(setup: Setup, label: str, times: dict[str, list[float]], samples: int) -> list[str]:
    hand = statistics.median(times["hand-written loop"])
    lines = [
        f"## {label} on {card_name(setup.device)}: torch {torch.__version__}, batch {samples // len(setup.data)}, "
        f"{len(setup.data)} steps x {len(times['hand-written loop'])} rounds, channels_last, "
        f"checkpoint every {setup.checkpoint_every}",
        "",
        "| contender | samples/s (median) | spread | vs hand-written | share of the step |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, runs in times.items():
        median = statistics.median(runs)
        spread = (max(runs) - min(runs)) / median
        share = "" if name == "hand-written loop" else f"{(median - hand) / hand:+.2%}"
        lines.append(f"| {name} | {samples / median:,.0f} | {spread:.1%} | {hand / median:.3f}x | {share} |")
    return [*lines, ""]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dtype", help="comma-separated: fp32, bf16, fp16 (default bf16,fp16 on CUDA, fp32 else)")
    parser.add_argument("--batch", type=int, default=None, help="images per batch (default 256; 16 with --tiny)")
    parser.add_argument("--steps", type=int, default=100, help="iterations per timed run (default 100)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of every contender (default 5)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default 20; 1 with --tiny)")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="default: half of --steps")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke run)")
    parser.add_argument("--tiny", action="store_true", help="a model 8 times narrower (for a smoke run)")
    parser.add_argument("--no-ignite", action="store_true", help="leave Ignite out")
    args = parser.parse_args(argv)
    args.batch = args.batch or (16 if args.tiny else 256)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 20)
    args.dtype = args.dtype or ("bf16,fp16" if args.device.startswith("cuda") else "fp32")
    args.dtypes = [part.strip() for part in args.dtype.split(",") if part.strip()]
    unknown = [name for name in args.dtypes if name not in DTYPES]
    if unknown or not args.dtypes:
        parser.error(f"--dtype takes a comma-separated list of {sorted(DTYPES)}, got {args.dtype!r}")
    if min(args.batch, args.steps, args.rounds) < 1 or args.warmup < 0:
        parser.error("--batch, --steps and --rounds must be positive, --warmup not negative")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.exit(2, f"gpu.py: --device {args.device} but CUDA is not available here; use --device cpu --tiny.\n")
    if not args.device.startswith("cuda") and "fp16" in args.dtypes:
        parser.error("fp16 (with a GradScaler) is measured on CUDA only: use --dtype fp32,bf16 off CUDA")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    card = card_name(torch.device(args.device))
    print(f"# gpu.py: {card}, torch {torch.__version__}, python {sys.version.split()[0]}")
    print()
    with tempfile.TemporaryDirectory() as folder:
        for name in args.dtypes:
            setup = Setup(args, DTYPES[name])
            contenders: dict[str, Contender] = {"hand-written loop": hand_written(setup)}
            for library in ("cadence",) if args.no_ignite else ("cadence", "ignite"):
                contenders[f"{library} trainer"] = trainer(setup, library, False, folder)
                contenders[f"{library} + handlers"] = trainer(setup, library, True, os.path.join(folder, library))
            times = measure(setup, contenders, args.rounds)
            label = {"fp32": "fp32 (no autocast)", "bf16": "bf16 autocast", "fp16": "fp16 autocast + GradScaler"}
            print("\n".join(table(setup, label[name], times, args.batch * args.steps)))


if __name__ == "__main__":
    main()
