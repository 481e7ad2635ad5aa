"""The supervised trainer's step never waits for the device: no host sync per iteration unless a handler reads a value.

What it takes: ``create_supervised_trainer``'s default ``output_transform`` returns ``loss.item()`` (as Ignite's
does), which copies the loss to the host and so waits for the GPU at every iteration. A trainer that must not
wait passes ``output_transform=lambda x, y, y_pred, loss: loss.detach()``: ``engine.state.output`` is then the
loss tensor, on the device. With float16 and a ``GradScaler``, ``scaler.step(optimizer)`` reads the scaler's
found-inf flag on the host (``.item()``) unless the optimizer takes the scaling itself: use a fused optimizer
(``torch.optim.SGD(..., fused=True)``, ``AdamW(..., fused=True)``), whose step skips on its own on the device.

Handlers that read no value keep the loop free of syncs: a progress bar without metrics, a ``Checkpoint``
(which copies the state to the host at its save iterations only), a handler that adds the loss up on the device.
Anything that shows or compares a number (``RunningAverage`` shown in a bar, ``TerminateOnNan``, a logger) reads
it, and waits, when it does.

Two checks of the same property: on CUDA (skipped without it), under ``torch.cuda.set_sync_debug_mode("error")``,
which raises at any synchronizing call; and on the CPU, where ``Tensor.item``/``tolist``/``float()``/``int()``/
``bool()`` are made to raise during the checked iterations. The first iteration is a warm-up, never checked, and so
are a checkpoint's save iterations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine import create_supervised_trainer
from cadence.handlers import Checkpoint, DiskSaver, ProgressBar

ITERATIONS = 7
SAVE_EVERY = 3
HOST_READS = ("item", "tolist", "__float__", "__int__", "__bool__")

requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device: torch.cuda.set_sync_debug_mode only sees syncs with a GPU (the CPU tests below "
    "check the same property by making Tensor.item and friends raise)",
)


class HostReadError(AssertionError):
    pass


class CpuReadGuard:
    """While on, reading a tensor's value on the host (``.item()``, ``.tolist()``, ``float()``...) raises."""

    def __init__(self) -> None:
        self.saved = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def on(self) -> None:
        for name in HOST_READS:
            setattr(torch.Tensor, name, self._refuse(name))

    def off(self) -> None:
        for name, method in self.saved.items():
            setattr(torch.Tensor, name, method)

    @staticmethod
    def _refuse(name: str) -> Callable[..., Any]:
        def refuse(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            raise HostReadError(f"Tensor.{name} read a value on the host during a checked iteration")

        return refuse


class CudaSyncGuard:
    """While on, any call that synchronizes with the GPU raises (``torch.cuda.set_sync_debug_mode("error")``)."""

    def on(self) -> None:
        torch.cuda.set_sync_debug_mode("error")

    def off(self) -> None:
        torch.cuda.set_sync_debug_mode("default")


Guard = CpuReadGuard | CudaSyncGuard


def small_model(device: str) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10)
    ).to(device)


def batches(device: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(4, 3, 8, 8, generator=generator).to(device),
            torch.randint(0, 10, (4,), generator=generator).to(device),
        )
        for _ in range(ITERATIONS)
    ]


def loss_tensor(x: Any, y: Any, y_pred: Any, loss: torch.Tensor) -> torch.Tensor:
    return loss.detach()


def trainer(device: str, dtype: torch.dtype | None, **options: Any) -> Engine[Any]:
    model = small_model(device)
    fused = dtype == torch.float16  # the scaler's step reads found-inf on the host unless the optimizer is fused
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=fused or None)
    amp: dict[str, Any] = {"amp_mode": "amp", "amp_dtype": dtype, "scaler": dtype == torch.float16} if dtype else {}
    options.setdefault("output_transform", loss_tensor)
    engine = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss(), device=device, **amp, **options)
    setattr(engine, "test_model", model)  # noqa: B010  # for the handlers below
    setattr(engine, "test_optimizer", optimizer)  # noqa: B010
    return engine


def quiet_handlers(engine: Engine[Any], folder: Path) -> None:
    """Handlers that read no value: a bar without metrics, a checkpoint every SAVE_EVERY, a sum on the device."""
    ProgressBar(file=open(os.devnull, "w"), disable=False).attach(engine)  # noqa: SIM115  # closed with the process
    to_save = {"model": getattr(engine, "test_model"), "optimizer": getattr(engine, "test_optimizer")}  # noqa: B009
    checkpoint = Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=1, async_save=True)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=SAVE_EVERY), checkpoint)
    engine.add_event_handler(Events.COMPLETED, lambda _: checkpoint.wait())
    total: list[torch.Tensor] = []

    def add_up(engine: Engine[Any]) -> None:
        if total:
            total[0] += engine.state.output
        else:
            total.append(engine.state.output.clone())

    engine.add_event_handler(Events.ITERATION_COMPLETED, add_up)


def checked(iteration: int, saves: bool) -> bool:
    return iteration > 1 and not (saves and iteration % SAVE_EVERY == 0)


def run_checked(engine: Engine[Any], data: list[Any], guard: Guard, saves: bool = False) -> int:
    """Run with ``guard`` on from the start of each checked iteration to its end, after every other handler."""
    seen: list[int] = []

    def start(engine: Engine[Any]) -> None:
        if checked(engine.state.iteration, saves):
            seen.append(engine.state.iteration)
            guard.on()

    engine.add_event_handler(Events.ITERATION_STARTED, start)
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda _: guard.off())  # the last handler of the iteration
    try:
        engine.run(data, max_epochs=1)
    finally:
        guard.off()
    return len(seen)


@contextmanager
def restored_cpu_reads() -> Iterator[CpuReadGuard]:
    guard = CpuReadGuard()
    try:
        yield guard
    finally:
        guard.off()


# --- on the CPU: no value read on the host in a checked iteration ---------------------------------------------------


@pytest.mark.parametrize("dtype", [None, torch.bfloat16, torch.float16], ids=["fp32", "bf16", "fp16+scaler"])
def test_the_bare_trainer_reads_no_value_on_the_host(dtype: torch.dtype | None) -> None:
    with restored_cpu_reads() as guard:
        assert run_checked(trainer("cpu", dtype), batches("cpu"), guard) == ITERATIONS - 1


@pytest.mark.parametrize("dtype", [None, torch.bfloat16], ids=["fp32", "bf16"])
def test_handlers_that_read_nothing_keep_the_iterations_free_of_reads(
    dtype: torch.dtype | None, tmp_path: Path
) -> None:
    engine = trainer("cpu", dtype)
    quiet_handlers(engine, tmp_path)
    with restored_cpu_reads() as guard:
        assert run_checked(engine, batches("cpu"), guard, saves=True) == 4  # iterations 2, 4, 5, 7
    assert list(tmp_path.glob("*.pt")), "the checkpoint saved at its own iterations"


def test_the_default_output_transform_reads_the_loss_at_every_iteration() -> None:
    engine = trainer("cpu", None, output_transform=lambda x, y, y_pred, loss: loss.item())  # Ignite's default
    with restored_cpu_reads() as guard, pytest.raises(HostReadError, match=r"Tensor\.item"):
        run_checked(engine, batches("cpu"), guard)


# --- on CUDA: no host sync in a checked iteration ------------------------------------------------------------------


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16+scaler"])
def test_the_bare_trainer_never_syncs_with_the_gpu(dtype: torch.dtype) -> None:
    assert run_checked(trainer("cuda", dtype), batches("cuda"), CudaSyncGuard()) == ITERATIONS - 1


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16+scaler"])
def test_handlers_that_read_nothing_never_sync_with_the_gpu(dtype: torch.dtype, tmp_path: Path) -> None:
    engine = trainer("cuda", dtype)
    quiet_handlers(engine, tmp_path)
    assert run_checked(engine, batches("cuda"), CudaSyncGuard(), saves=True) == 4


@requires_cuda
def test_the_sync_check_does_catch_a_sync() -> None:
    engine = trainer("cuda", torch.bfloat16, output_transform=lambda x, y, y_pred, loss: loss.item())
    with pytest.raises(RuntimeError, match="synchroniz"):
        run_checked(engine, batches("cuda"), CudaSyncGuard())
