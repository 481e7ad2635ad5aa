"""Mixed precision settings of the supervised step functions: the mode, the device type, the autocast dtype and
the gradient scaler, checked together with Ignite's errors."""

from __future__ import annotations

import enum

import torch
from torch import nn

Device = str | torch.device | None


class AmpMode(enum.Enum):
    """Mixed precision modes: ``AMP`` runs the forward pass under :func:`torch.autocast`.

    Example:
        >>> AmpMode("amp") is AmpMode.AMP
        True
    """

    AMP = "amp"


_APEX_UNSUPPORTED = (
    "Please install apex from https://github.com/nvidia/apex to use amp_mode='apex'. cadence itself does not "
    "support NVIDIA Apex: use amp_mode='amp' (torch.autocast, with scaler=True for float16)."
)


def _amp_mode(amp_mode: AmpMode | str | None, scaler: object = None) -> AmpMode | None:
    """Check ``amp_mode`` and ``scaler`` together, with Ignite's errors, and return the mode."""
    if scaler is not None and not isinstance(scaler, bool | torch.amp.GradScaler):
        raise TypeError(f"scaler must be a bool, None or a torch.amp.GradScaler, got {type(scaler).__name__}.")
    if amp_mode == "apex":
        if scaler is not None and scaler is not False:
            raise ValueError(f"scaler argument is {scaler}, but amp_mode is apex. Use amp_mode='amp' with a scaler.")
        raise ModuleNotFoundError(_APEX_UNSUPPORTED)
    if amp_mode is None:
        if scaler is not None and scaler is not False:
            raise ValueError(f"scaler argument is {scaler}, but amp_mode is None. Pass amp_mode='amp' to use it.")
        return None
    try:
        mode = amp_mode if isinstance(amp_mode, AmpMode) else AmpMode(amp_mode)
    except ValueError:
        raise ValueError(f"amp_mode must be None or 'amp' (torch.autocast), got {amp_mode!r}.") from None
    # Present in every torch cadence supports; checked (scaler first) as Ignite does, for a clear error.
    if scaler is True:
        try:
            from torch.amp import GradScaler  # noqa: F401
        except ImportError:
            raise ImportError("Please install torch>=2.3.1 to use scaler argument.") from None
    try:
        from torch.amp import autocast  # noqa: F401
    except ImportError:
        raise ImportError("Please install torch>=1.12.0 to use amp_mode='amp'.") from None
    return mode


def _device_type(device: Device, model: nn.Module) -> str:
    if device is not None:
        kind = torch.device(device).type
        if kind == "xla":
            raise RuntimeError(
                "In order to run on TPU, please install PyTorch XLA; cadence itself does not support TPUs "
                "(it trains on CPU and CUDA devices through torch.distributed)."
            )
        return kind
    parameters = getattr(model, "parameters", None)  # a model-like object may have none: then the CPU
    param = next(iter(parameters()), None) if callable(parameters) else None
    return param.device.type if isinstance(param, torch.Tensor) else "cpu"


def _default_amp_dtype(device_type: str) -> torch.dtype:
    return torch.float16 if device_type == "cuda" else torch.bfloat16


def _make_scaler(
    scaler: bool | torch.amp.GradScaler | None, amp: AmpMode | None, device_type: str, dtype: torch.dtype | None
) -> torch.amp.GradScaler | None:
    if isinstance(scaler, torch.amp.GradScaler):
        return scaler
    if scaler is not None and not isinstance(scaler, bool):
        raise TypeError(f"scaler must be a bool, None or a torch.amp.GradScaler, got {type(scaler).__name__}.")
    wanted = scaler if scaler is not None else (amp is not None and dtype == torch.float16)
    return torch.amp.GradScaler(device_type) if wanted else None
