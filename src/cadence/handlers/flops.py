"""What a step computes and what the device could: :func:`count_flops` measures the FLOPs of one call, and
:func:`peak_flops` looks up a GPU's dense peak for a :class:`Precision`, for the model FLOPs utilisation (MFU)
that :class:`~cadence.handlers.throughput.Throughput` reports.

The peaks are NVIDIA's datasheet figures for dense math (without the 2:4 sparsity that doubles the headline
numbers): bf16 and fp16 on the tensor cores with fp32 accumulation, tf32 on the tensor cores, and fp32 on the
CUDA cores. A GPU that is not in :data:`PEAK_FLOPS` (or a precision it lacks, such as bf16 on a V100) has no
peak: pass ``peak_flops=`` to ``Throughput`` instead.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

__all__ = ["PEAK_FLOPS", "Precision", "count_flops", "gpu_model", "peak_flops"]

_TERA = 1e12


class Precision(enum.Enum):
    """The number format of a step's matrix math, which decides the device's peak FLOP/s.

    Example:
        >>> Precision.BF16.value
        'bf16'
    """

    BF16 = "bf16"
    FP16 = "fp16"
    TF32 = "tf32"
    FP32 = "fp32"


def _peaks(bf16: float | None, fp16: float, tf32: float | None, fp32: float) -> Mapping[Precision, float]:
    """Teraflops as FLOP/s, leaving out the precisions a GPU has no tensor cores for."""
    table = {Precision.BF16: bf16, Precision.FP16: fp16, Precision.TF32: tf32, Precision.FP32: fp32}
    return MappingProxyType({key: value * _TERA for key, value in table.items() if value is not None})


#: Dense peak FLOP/s per GPU model and precision (NVIDIA's datasheets; see the module's description).
PEAK_FLOPS: Mapping[str, Mapping[Precision, float]] = MappingProxyType(
    {
        "A100": _peaks(312.0, 312.0, 156.0, 19.5),
        "A10G": _peaks(125.0, 125.0, 62.5, 31.2),  # AWS publishes none: the A10's, the same GA102 chip
        "H100 SXM": _peaks(989.4, 989.4, 494.7, 66.9),
        "H100 PCIe": _peaks(756.0, 756.0, 378.0, 51.2),
        "H100 NVL": _peaks(835.5, 835.5, 417.5, 60.0),
        "H200": _peaks(989.4, 989.4, 494.7, 66.9),
        "H200 NVL": _peaks(835.5, 835.5, 417.5, 60.0),
        "L4": _peaks(121.0, 121.0, 60.0, 30.3),
        "L40S": _peaks(362.05, 362.05, 183.0, 91.6),
        "RTX 4090": _peaks(165.2, 165.2, 82.6, 82.6),
        "V100 SXM2": _peaks(None, 125.0, None, 15.7),
        "V100 PCIe": _peaks(None, 112.0, None, 14.0),
    }
)

# (pattern on the lower-cased device name, model), the first match wins: the more specific names come first.
_NAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), model)
    for pattern, model in (
        (r"h100.*nvl", "H100 NVL"),
        (r"h100.*pcie", "H100 PCIe"),
        (r"h100", "H100 SXM"),  # "NVIDIA H100 80GB HBM3": the SXM module
        (r"h200.*nvl", "H200 NVL"),
        (r"h200", "H200"),
        (r"a100", "A100"),
        (r"a10g", "A10G"),
        (r"l40s", "L40S"),
        (r"\bl4\b", "L4"),
        (r"rtx 4090", "RTX 4090"),
        (r"v100.*pcie", "V100 PCIe"),
        (r"v100", "V100 SXM2"),
    )
)


def gpu_model(name: str) -> str | None:
    """The key of :data:`PEAK_FLOPS` for a device name as ``torch.cuda.get_device_name`` gives it, or ``None``.

    Example:
        >>> gpu_model("NVIDIA H100 80GB HBM3"), gpu_model("NVIDIA A100-SXM4-40GB"), gpu_model("NVIDIA L40")
        ('H100 SXM', 'A100', None)
    """
    if not isinstance(name, str):
        raise TypeError(f"name should be a device name (a string), got {name!r}.")
    lowered = name.lower()
    return next((model for pattern, model in _NAMES if pattern.search(lowered)), None)


def peak_flops(device: torch.device | str | None = None, precision: Precision = Precision.BF16) -> float | None:
    """The dense peak FLOP/s of ``device`` (default: the current CUDA device) at ``precision``, or ``None`` for a
    CPU, an unknown GPU, or a precision the GPU has no tensor cores for.

    Example:
        >>> peak_flops("cpu") is None
        True
    """
    if not isinstance(precision, Precision):
        raise TypeError(f"precision should be a Precision (e.g. Precision.BF16), got {precision!r}.")
    where = torch.device(device) if device is not None else None
    if where is not None and where.type != "cuda":
        return None
    if not torch.cuda.is_available():
        return None
    model = gpu_model(torch.cuda.get_device_name(where))
    return None if model is None else PEAK_FLOPS[model].get(precision)


def count_flops(function: Callable[..., Any], *args: Any, backward: bool = False) -> int:
    """The FLOPs of one call ``function(*args)``, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    Give a whole training step as a function of no arguments (a forward, a loss and its backward, but no
    optimizer step: the call is real), or a model and an example batch: ``count_flops(model, batch)`` counts
    its forward, and with ``backward=True`` also the backward of the sum of its output. With a model, the call
    changes nothing that training depends on: the random number generators are forked, the buffers (batch norm
    statistics) restored and the gradients left as they were; count before wrapping it (DDP, FSDP) or
    compiling it, so that no collective or compilation runs. Only the operators PyTorch has formulas for are
    counted (matrix products, convolutions, attention): a step's elementwise work is not.

    Example:
        >>> count_flops(nn.Linear(64, 10), torch.randn(32, 64))  # 2 * 32 * 64 * 10
        40960
        >>> count_flops(nn.Linear(64, 10), torch.randn(32, 64), backward=True)  # and the weight's gradient
        81920
    """
    if not callable(function):
        raise TypeError(f"count_flops needs a callable (a step, or a model and its input), got {function!r}.")
    if not isinstance(backward, bool):
        raise TypeError(f"backward should be True or False, got {backward!r}.")
    if backward and not isinstance(function, nn.Module):
        raise ValueError("backward=True needs a model (count_flops(model, batch)); a step function runs its own.")
    from torch.utils.flop_counter import FlopCounterMode  # its import costs; only when counting

    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    forward_only = isinstance(function, nn.Module) and not backward
    with (
        torch.random.fork_rng(devices=devices),
        _model_state_kept(function),
        FlopCounterMode(display=False) as counter,
        torch.no_grad() if forward_only else contextlib.nullcontext(),
    ):
        output = function(*args)
        if backward:
            _backward(output)
    return int(counter.get_total_flops())


def _backward(output: Any) -> None:
    leaves = [t for t in _tensors(output) if t.requires_grad and t.is_floating_point()]
    if not leaves:
        raise ValueError("count_flops(backward=True): the model's output holds no tensor that requires grad.")
    torch.autograd.backward([leaf.sum() for leaf in leaves])


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _tensors(item)]
    return []


@contextlib.contextmanager
def _model_state_kept(function: Callable[..., Any]) -> Iterator[None]:
    """Put a model's buffers and gradients back as they were when the block ends (nothing for a function)."""
    if not isinstance(function, nn.Module):
        yield
        return
    buffers = [(buffer, buffer.detach().clone()) for buffer in function.buffers()]
    grads = [(parameter, parameter.grad) for parameter in function.parameters()]
    for parameter, _ in grads:  # the count makes fresh gradients: the old ones are put back untouched
        parameter.grad = None
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for parameter, grad in grads:
            parameter.grad = grad
