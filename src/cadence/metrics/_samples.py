"""A metric that keeps every sample it sees and gathers all processes' samples, exactly, when it computes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from cadence.distributed import all_gather, get_world_size
from cadence.metrics.metric import Metric, NotComputableError, identity

__all__ = ["CheckedGatheredPairs", "GatheredPairs"]


class GatheredPairs(Metric):
    """Keeps the pairs ``(y_pred, y)`` of every batch; :meth:`gathered` returns all of them over all processes.

    For metrics that need every sample at once (medians, ranks, clustering scores). Across processes the
    samples are gathered in rank order without padding or duplicates, however unevenly they are shared;
    a process that saw nothing still takes part. Subclasses call :meth:`keep` from ``update``.

    Example:
        >>> class Count(GatheredPairs):
        ...     def update(self, output):
        ...         self.keep(*output)
        ...     def compute(self):
        ...         return len(self.gathered(torch.float64, torch.float64)[0])
        >>> count = Count()
        >>> count.update((torch.ones(3), torch.zeros(3)))
        >>> count.compute()
        3
    """

    _state_names = ("_predictions", "_targets")

    def reset(self) -> None:
        """Forget all samples."""
        self._predictions: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def keep(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        """Store a copy of one batch (detached, on the metric's device)."""
        self._predictions.append(y_pred.detach().to(self._device, copy=True))
        self._targets.append(y.detach().to(self._device, copy=True))

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the samples saved by :meth:`state_dict` (copied, so the saved state is never changed)."""
        super().load_state_dict(state_dict)
        self._predictions = [t.to(self._device, copy=True) for t in self._predictions]
        self._targets = [t.to(self._device, copy=True) for t in self._targets]

    def _check_state(self, state: dict[str, Any]) -> None:
        predictions, targets = state["_predictions"], state["_targets"]
        if not (isinstance(predictions, list) and isinstance(targets, list) and len(predictions) == len(targets)):
            raise ValueError(
                f"Cannot load {type(self).__name__} state: it needs two lists of tensors of the same length."
            )

    def gathered(self, pred_dtype: torch.dtype, target_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples of all processes (rank order) as ``pred_dtype`` and ``target_dtype`` tensors.

        Raises :class:`NotComputableError` (on every process) when no process has seen a sample.
        """
        predictions = _joined(self._predictions, pred_dtype)
        targets = _joined(self._targets, target_dtype)
        if get_world_size() > 1:
            predictions, targets = _gathered(predictions, pred_dtype), _gathered(targets, target_dtype)
        if predictions is None or targets is None or len(targets) == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        return predictions, targets


def _joined(batches: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor | None:
    if not batches:
        return None
    return torch.cat([batch.to(dtype) for batch in batches])


def _gathered(rows: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """``rows`` of every process; a process without rows sends none, shaped like the others' rows."""
    shapes = [shape for shape in all_gather(None if rows is None else tuple(rows.shape[1:])) if shape is not None]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError(
            f"The processes hold samples of different shapes {sorted(set(shapes))}; every process must feed "
            "samples of the same shape."
        )
    if rows is None:
        rows = torch.zeros((0, *(shapes[0] if shapes else ())), dtype=dtype)
    return all_gather(rows)


class CheckedGatheredPairs(GatheredPairs):
    """:class:`GatheredPairs` with Ignite's ``EpochMetric``-style signature, ``check_compute_fn`` second.

    ``check_compute_fn`` is Ignite's trial of a user's function on the first batch; these metrics' own
    computations need none, so it is only kept (as ``self.check_compute_fn``).

    Example:
        >>> class Count(CheckedGatheredPairs):
        ...     def update(self, output):
        ...         self.keep(*output)
        ...     def compute(self):
        ...         return len(self.gathered(torch.float64, torch.float64)[0])
        >>> Count(lambda output: output, False).check_compute_fn
        False
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self.check_compute_fn = check_compute_fn
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
