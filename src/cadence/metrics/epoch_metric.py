""":class:`EpochMetric`: a function of every prediction and target seen, gathered across processes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from cadence.distributed import all_gather, get_world_size
from cadence.metrics._inputs import as_pair
from cadence.metrics.metric import Metric, identity
from cadence.metrics.metric import NotComputableError as NotComputableError

__all__ = ["EpochMetric", "EpochMetricWarning"]


class EpochMetricWarning(UserWarning):
    """Warned when ``check_compute_fn`` finds that the compute function fails on the first batch.

    Example:
        >>> issubclass(EpochMetricWarning, UserWarning)
        True
    """


class EpochMetric(Metric):
    """A metric whose value is ``compute_fn(predictions, targets)`` over all the data of the run.

    Every batch is kept (``y_pred`` and ``y`` of shape ``(batch_size,)`` or ``(batch_size, n_targets)``;
    ``(batch_size, 1)`` is squeezed to ``(batch_size,)``) until :meth:`compute`, which concatenates them,
    gathers them from every process in rank order (no padding, no duplicates; a process that saw nothing
    still takes part) and calls ``compute_fn`` on every process with the same data, so all processes get
    the same value. Memory grows with the data: prefer a cumulative metric where one exists.

    It is also the base of cadence's metrics that need every sample at once (ROC AUC, medians, rank
    correlations, clustering scores...): a subclass whose data differ overrides ``_checked`` (the checks
    and layout of one batch) and computes with ``_gathered`` (every process's rows, in rank order).

    Args:
        compute_fn: ``compute_fn(predictions, targets)``, the value (a number, a tensor or a tuple of them).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        check_compute_fn: call ``compute_fn`` on the first batch and warn (:class:`EpochMetricWarning`) if it
            raises, to catch a broken function early.
        device: where the batches are kept.
        skip_unrolling: see :class:`~cadence.metrics.metric.Metric`.

    Example:
        >>> def mean_squared_error(y_pred, y):
        ...     return ((y_pred - y) ** 2).mean().item()
        >>> mse = EpochMetric(mean_squared_error)
        >>> mse.update((torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0])))
        >>> mse.update((torch.tensor([3.0]), torch.tensor([1.0])))
        >>> round(mse.compute(), 4)
        1.6667
    """

    _state_names = ("_predictions", "_targets")

    def __init__(
        self,
        compute_fn: Callable[[torch.Tensor, torch.Tensor], Any],
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not callable(compute_fn):
            raise TypeError(f"Argument compute_fn should be callable, got {compute_fn!r}.")
        self.compute_fn = compute_fn
        self._check_compute_fn = bool(check_compute_fn)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget every batch seen."""
        self._predictions: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def _check_shape(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        if y_pred.dim() not in (1, 2):
            raise ValueError(
                f"Predictions should be of shape (batch_size, n_targets) or (batch_size, ), got {tuple(y_pred.shape)}."
            )
        if y.dim() not in (1, 2):
            raise ValueError(
                f"Targets should be of shape (batch_size, n_targets) or (batch_size, ), got {tuple(y.shape)}."
            )

    def _check_type(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        if not self._predictions:
            return
        y_pred, y = output
        kept_pred, kept = self._predictions[-1], self._targets[-1]
        if y_pred.dtype != kept_pred.dtype:
            raise ValueError(
                f"Incoherent types between input y_pred and stored predictions: {kept_pred.dtype} vs {y_pred.dtype}; "
                "give every batch's y_pred the same dtype."
            )
        if y.dtype != kept.dtype:
            raise ValueError(
                f"Incoherent types between input y and stored targets: {kept.dtype} vs {y.dtype}; "
                "give every batch's y the same dtype."
            )
        if y_pred.shape[1:] != kept_pred.shape[1:] or y.shape[1:] != kept.shape[1:]:
            raise ValueError(
                f"{type(self).__name__} got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)} after batches of "
                f"y_pred {tuple(kept_pred.shape)} and y {tuple(kept.shape)}; every batch must have the same number "
                "of targets."
            )

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows to keep of one batch ``(y_pred, y)``, once checked (subclasses whose data differ override it)."""
        y_pred, y = as_pair(output, type(self).__name__)
        self._check_shape((y_pred, y))
        if y_pred.dim() == 2 and y_pred.shape[1] == 1:
            y_pred = y_pred.squeeze(1)
        if y.dim() == 2 and y.shape[1] == 1:
            y = y.squeeze(1)
        self._check_type((y_pred, y))
        return y_pred, y

    def update(self, output: Any) -> None:
        """Keep (a detached copy of) one batch ``(y_pred, y)``; with ``check_compute_fn``, try ``compute_fn`` on
        the first batch and warn if it fails."""
        y_pred, y = self._checked(output)
        self._predictions.append(y_pred.detach().to(self._device, copy=True))
        self._targets.append(y.detach().to(self._device, copy=True))
        if self._check_compute_fn and len(self._predictions) == 1:
            try:
                self.compute_fn(self._predictions[0], self._targets[0])
            except Exception as error:  # any failure of the user's function is worth a warning
                warnings.warn(
                    f"Probably, there can be a problem with `compute_fn` ({type(self).__name__} on the first "
                    f"batch):\n {error}",
                    EpochMetricWarning,
                    stacklevel=2,
                )

    def _check_state(self, state: dict[str, Any]) -> None:
        predictions, targets = state["_predictions"], state["_targets"]
        if (
            not isinstance(predictions, list)
            or not isinstance(targets, list)
            or len(predictions) != len(targets)
            or not all(isinstance(t, torch.Tensor) for t in predictions + targets)
        ):
            raise ValueError(
                f"Cannot load {type(self).__name__} state: '_predictions' and '_targets' must be lists of "
                "tensors of the same length."
            )

    def _empty_message(self) -> str:
        return f"{type(self).__name__} must have at least one example before it can be computed."

    def _gathered(
        self, pred_dtype: torch.dtype | None = None, target_dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every prediction and target kept, by every process in rank order (as ``pred_dtype``/``target_dtype``
        when given, each batch converted before they are joined); :class:`NotComputableError` on every process
        when no process kept a row."""
        predictions = _joined(self._predictions, pred_dtype)
        targets = _joined(self._targets, target_dtype)
        if get_world_size() > 1:
            predictions, targets = _gather_rows(predictions, targets, type(self).__name__, self._device)
        if predictions is None or targets is None or predictions.shape[0] == 0:
            raise NotComputableError(self._empty_message())
        return predictions, targets

    def compute(self) -> Any:
        """``compute_fn`` of everything seen by every process (the same value on every process)."""
        return self.compute_fn(*self._gathered())


def _joined(batches: list[torch.Tensor], dtype: torch.dtype | None) -> torch.Tensor | None:
    if not batches:
        return None
    return torch.cat(batches if dtype is None else [batch.to(dtype) for batch in batches])


def _layout(tensor: torch.Tensor | None) -> tuple[tuple[int, ...], str] | None:
    return None if tensor is None else (tuple(tensor.shape[1:]), str(tensor.dtype).removeprefix("torch."))


def _gather_rows(
    predictions: torch.Tensor | None, targets: torch.Tensor | None, kind: str, device: torch.device
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """All processes' rows (``all_gather`` of tensors whose numbers of rows differ); a process without rows
    joins with empty tensors of the shape and dtype the others agree on."""
    layouts = all_gather((_layout(predictions), _layout(targets)))
    seen = {layout for layout in layouts if layout[0] is not None}
    if not seen:
        return None, None
    if len(seen) > 1:
        raise ValueError(
            f"{kind}: the processes hold data of different shapes or dtypes {sorted(map(str, seen))}; every "
            "process must give batches of the same number of targets and dtypes."
        )
    (pred_layout, target_layout) = seen.pop()
    assert pred_layout is not None and target_layout is not None  # both are kept together
    if predictions is None or targets is None:
        predictions = _empty(pred_layout, device)
        targets = _empty(target_layout, device)
    return all_gather(predictions), all_gather(targets)


def _empty(layout: tuple[tuple[int, ...], str], device: torch.device) -> torch.Tensor:
    shape, dtype = layout
    return torch.zeros((0, *shape), dtype=getattr(torch, dtype), device=device)
