"""Checking regression inputs: one value per sample, ``(N,)`` or ``(N, 1)``, floating point."""

from __future__ import annotations

from typing import Any

import torch

from cadence.metrics._inputs import as_pair

__all__ = ["column_pair", "same_shape_pair"]


def _is_column(tensor: torch.Tensor) -> bool:
    return tensor.dim() == 1 or (tensor.dim() == 2 and tensor.shape[1] == 1)


def column_pair(output: Any, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y_pred, y)`` checked to be floating tensors of the same shape ``(N,)`` or ``(N, 1)``, detached, as ``(N,)``.

    Example:
        >>> y_pred, y = column_pair((torch.ones(3, 1), torch.zeros(3, 1)), "MeanError")
        >>> y_pred.shape, y.shape
        (torch.Size([3]), torch.Size([3]))
    """
    y_pred, y = as_pair(output, kind)
    for name, tensor in (("y_pred", y_pred), ("y", y)):
        if not _is_column(tensor):
            raise ValueError(
                f"{kind}: Input {name} should have shape (N,) or (N, 1), but given {tuple(tensor.shape)} "
                "(one value per sample)."
            )
    if y_pred.shape != y.shape:
        raise ValueError(
            f"{kind}: Input data shapes should be the same, but given {tuple(y_pred.shape)} and {tuple(y.shape)}."
        )
    for name, tensor in (("y_pred", y_pred), ("y", y)):
        if not tensor.is_floating_point():
            raise TypeError(
                f"{kind}: Input {name} dtype should be float 16, 32 or 64, but given {tensor.dtype} "
                f"(convert it with {name}.float())."
            )
    return y_pred.detach().reshape(-1), y.detach().reshape(-1)


def same_shape_pair(output: Any, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y_pred, y)`` checked to be tensors of the same shape (any shape, any dtype), detached.

    Example:
        >>> y_pred, y = same_shape_pair((torch.ones(2, 3), torch.zeros(2, 3)), "MeanSquaredError")
        >>> y_pred.shape
        torch.Size([2, 3])
    """
    y_pred, y = as_pair(output, kind)
    if y_pred.shape != y.shape:
        raise ValueError(
            f"{kind}: Input data shapes should be the same, but given {tuple(y_pred.shape)} and {tuple(y.shape)}."
        )
    return y_pred.detach(), y.detach()
