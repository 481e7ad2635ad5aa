"""Checking classification inputs: which kind of data (binary, multiclass, multilabel) and how many classes."""

from __future__ import annotations

from typing import Any

import torch

from cadence.metrics.metric import Metric

__all__ = ["BINARY", "MULTICLASS", "MULTILABEL", "ClassificationMetric", "as_pair", "check_binary_values"]

BINARY, MULTICLASS, MULTILABEL = "binary", "multiclass", "multilabel"


def as_pair(output: Any, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Unpack ``(y_pred, y)`` and check that both are tensors (not detached: callers that compute with them do)."""
    if not isinstance(output, tuple | list) or len(output) != 2:
        raise TypeError(f"{kind}.update takes a pair (y_pred, y), got {type(output).__name__}: {output!r:.100}.")
    y_pred, y = output
    if not isinstance(y_pred, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{kind}.update takes tensors (y_pred, y), got ({type(y_pred).__name__}, {type(y).__name__}).")
    return y_pred, y


def check_binary_values(tensor: torch.Tensor, name: str, kind: str) -> None:
    """Raise unless ``tensor`` holds only 0s and 1s (one host sync; bool tensors need none)."""
    if tensor.dtype != torch.bool and bool(((tensor != 0) & (tensor != 1)).any()):
        raise ValueError(
            f"{kind}: for binary and multilabel data, {name} must hold only 0s and 1s (round or threshold "
            f"probabilities first, e.g. y_pred > 0.5); for multiclass data give y_pred of shape "
            "(batch_size, num_classes, ...) and y of shape (batch_size, ...)."
        )


def check_class_indices(y: torch.Tensor, kind: str) -> None:
    """Raise unless ``y`` holds integer class indices."""
    if y.is_floating_point() or y.is_complex():
        raise TypeError(f"{kind}: for multiclass data y must hold integer class indices, got dtype {y.dtype}.")


class ClassificationMetric(Metric):
    """A metric that finds the kind of its data on the first update and refuses a change of kind later."""

    _is_multilabel: bool = False
    _type: str | None
    _num_classes: int | None

    def _reset_kind(self) -> None:
        self._type = None
        self._num_classes = None

    def _kind_of(self, y_pred: torch.Tensor, y: torch.Tensor) -> tuple[str, int]:
        """Check the shapes of ``y_pred`` and ``y`` and return the kind of data and its number of classes."""
        name = type(self).__name__
        if y.dim() + 1 == y_pred.dim():
            if y_pred.shape[:1] + y_pred.shape[2:] != y.shape:
                raise ValueError(
                    f"{name}: y must have shape (batch_size, ...) and y_pred (batch_size, num_classes, ...), "
                    f"but got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
                )
            if self._is_multilabel:
                raise ValueError(
                    f"{name}(is_multilabel=True) needs y_pred and y of the same shape (batch_size, num_labels, ...), "
                    f"got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
                )
            classes = y_pred.shape[1]
            kind = BINARY if classes == 1 else MULTICLASS
            if kind == MULTICLASS:
                check_class_indices(y, name)
        elif y.dim() == y_pred.dim():
            if y.shape != y_pred.shape:
                raise ValueError(
                    f"{name}: y_pred and y must have the same shape (or y_pred one more dim for classes), "
                    f"got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
                )
            if self._is_multilabel and (y.dim() < 2 or y.shape[1] < 2):
                raise ValueError(
                    f"{name}(is_multilabel=True) needs y_pred and y of shape (batch_size, num_labels, ...) with "
                    f"num_labels > 1, got {tuple(y.shape)}."
                )
            kind = MULTILABEL if self._is_multilabel else BINARY
            classes = y.shape[1] if self._is_multilabel else 1
        else:
            raise ValueError(
                f"{name}: y must have shape (batch_size, ...) and y_pred (batch_size, ...) or "
                f"(batch_size, num_classes, ...), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        self._remember_kind(kind, classes)
        return kind, classes

    def _remember_kind(self, kind: str, classes: int) -> None:
        if self._type is None:
            self._type, self._num_classes = kind, classes
            return
        if kind != self._type:
            raise ValueError(
                f"{type(self).__name__} was fed {self._type} data and now gets {kind} data; "
                "use one metric per kind of data (or reset() it)."
            )
        if classes != self._num_classes:
            raise ValueError(
                f"{type(self).__name__}: the number of classes changed from {self._num_classes} to {classes} "
                "between updates; every batch must have the same number of classes."
            )

    def _config(self) -> dict[str, Any]:
        return {"is_multilabel": self._is_multilabel}
