"""Checking classification inputs: which kind of data (binary, multiclass, multilabel) and how many classes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, overload

import torch

from cadence.metrics.metric import Metric

__all__ = [
    "BINARY",
    "MULTICLASS",
    "MULTILABEL",
    "ClassificationMetric",
    "DataKindChangedError",
    "as_pair",
    "check_binary_values",
]

BINARY, MULTICLASS, MULTILABEL = "binary", "multiclass", "multilabel"


@overload
def as_pair(output: Any, kind: str) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def as_pair(output: Any, kind: str, *, y_used: Literal[False]) -> tuple[torch.Tensor, object]: ...
def as_pair(output: Any, kind: str, *, y_used: bool = True) -> tuple[torch.Tensor, object]:
    """Unpack ``(y_pred, y)`` and check that both are tensors; ``kind`` (the metric's name) starts the errors.

    Not detached: callers that compute with the tensors do. With ``y_used=False`` (a metric of ``y_pred`` alone,
    such as :class:`~cadence.metrics.Entropy`) ``y`` may be anything, ``None`` included.

    Example:
        >>> y_pred, y = as_pair((torch.zeros(2), torch.ones(2)), "MeanError")
        >>> as_pair((torch.zeros(2), None), "Entropy", y_used=False)[1] is None
        True
        >>> as_pair(torch.zeros(2), "MeanError")
        Traceback (most recent call last):
        TypeError: MeanError.update takes a pair (y_pred, y), got Tensor: tensor([0., 0.]).
    """
    if not isinstance(output, tuple | list) or len(output) != 2:
        raise TypeError(f"{kind}.update takes a pair (y_pred, y), got {type(output).__name__}: {output!r:.100}.")
    y_pred, y = output
    if not isinstance(y_pred, torch.Tensor) or (y_used and not isinstance(y, torch.Tensor)):
        wanted = "tensors (y_pred, y)" if y_used else "a tensor y_pred in (y_pred, y)"
        raise TypeError(f"{kind}.update takes {wanted}, got ({type(y_pred).__name__}, {type(y).__name__}).")
    return y_pred, y


def check_binary_values(tensor: torch.Tensor, name: str, kind: str) -> None:
    """Raise unless ``tensor`` holds only 0s and 1s (one host sync; bool tensors need none)."""
    if tensor.dtype != torch.bool and bool(((tensor != 0) & (tensor != 1)).any()):
        raise ValueError(
            f"{kind}: For binary cases, {name} must be comprised of 0's and 1's (binary and multilabel data): "
            "round or threshold probabilities first, e.g. y_pred > 0.5; for multiclass data give y_pred of shape "
            "(batch_size, num_classes, ...) and y of shape (batch_size, ...)."
        )


def check_class_indices(y: torch.Tensor, kind: str) -> None:
    """Raise unless ``y`` holds class indices: integers, or floats that are whole numbers (as Ignite accepts)."""
    if y.is_complex() or (y.is_floating_point() and not bool((y == y.round()).all())):
        raise TypeError(
            f"{kind}: for multiclass data y must hold integer class indices, got dtype {y.dtype} with fractional "
            "values (give class indices, not scores or probabilities)."
        )


class DataKindChangedError(ValueError, RuntimeError):
    """A classification metric fed one kind of data (binary, multiclass, multilabel) and then another.

    Both a ``ValueError`` (bad input) and a ``RuntimeError`` (what Ignite raises).

    Example:
        >>> issubclass(DataKindChangedError, ValueError), issubclass(DataKindChangedError, RuntimeError)
        (True, True)
    """


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
                    f"{name}: y must have shape of (batch_size, ...) and y_pred of (batch_size, num_classes, ...), "
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
                f"{name}: y must have shape of (batch_size, ...) and y_pred of (batch_size, ...) or "
                f"(batch_size, num_classes, ...), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        self._remember_kind(kind, classes)
        return kind, classes

    def _remember_kind(self, kind: str, classes: int) -> None:
        if self._type is None:
            self._type, self._num_classes = kind, classes
            return
        if kind != self._type:
            raise DataKindChangedError(
                f"{type(self).__name__}: Input data type has changed from {self._type} to {kind}; "
                "use one metric per kind of data (or reset() it)."
            )
        if classes != self._num_classes:
            raise ValueError(
                f"{type(self).__name__}: Input data number of classes has changed from {self._num_classes} to "
                f"{classes} between updates; every batch must have the same number of classes."
            )

    def _config(self) -> dict[str, Any]:
        return {"is_multilabel": self._is_multilabel}

    @staticmethod
    def get_sequence_transform(
        ignore_index: int | Iterable[int] | None = None,
        output_transform: Callable[[Any], Any] = lambda output: output,
    ) -> Callable[[Any], tuple[torch.Tensor, torch.Tensor]]:
        """An ``output_transform`` for sequence models: ``y_pred`` ``(N, S, C)`` and ``y`` ``(N, S)`` become
        ``(N*S, C)`` and ``(N*S,)``, leaving out the positions whose target is ``ignore_index`` (e.g. padding).

        Example:
            >>> transform = ClassificationMetric.get_sequence_transform(ignore_index=-1)
            >>> y_pred, y = transform((torch.rand(2, 3, 4), torch.tensor([[1, 2, -1], [0, -1, -1]])))
            >>> tuple(y_pred.shape), y.tolist()
            ((3, 4), [1, 2, 0])
        """
        ignored = [ignore_index] if isinstance(ignore_index, int) else list(ignore_index or [])

        def flattened(output: Any) -> tuple[torch.Tensor, torch.Tensor]:
            y_pred, y = as_pair(output_transform(output), "get_sequence_transform")
            if y_pred.dim() != 3 or y.dim() != 2:
                raise ValueError(
                    f"Expected y_pred to be 3D (N, S, C) and y to be 2D (N, S), but got y_pred={y_pred.dim()}D and "
                    f"y={y.dim()}D."
                )
            if y_pred.shape[:2] != y.shape:
                raise ValueError(
                    f"y_pred and y have incompatible shapes: y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)} "
                    "must agree on (N, S)."
                )
            y_pred, y = y_pred.reshape(-1, y_pred.shape[-1]), y.reshape(-1)
            if ignored:
                kept = ~torch.isin(y, torch.tensor(ignored, dtype=y.dtype, device=y.device))
                y_pred, y = y_pred[kept], y[kept]
            return y_pred, y

        return flattened
