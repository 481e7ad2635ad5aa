"""Metrics per subgroup of the data (fairness): a base metric computed for each group, and the largest gap.

Each batch is ``(y_pred, y, group_labels)``; the samples of each group feed that group's copy of the base
metric. Across processes each group's metric reduces as it always does, so the values are exact.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity

__all__ = ["SubgroupDifference", "SubgroupMetric"]


class _Subgroups(Metric):
    """Keeps one copy of ``base_metric`` per group and feeds it that group's samples."""

    required_output_keys = ("y_pred", "y", "group_labels")

    def __init__(
        self,
        base_metric: Metric,
        groups: Sequence[Any],
        output_transform: Callable[[Any], Any] = identity,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(base_metric, Metric):
            raise TypeError(f"{type(self).__name__} needs a Metric as base_metric, got {type(base_metric).__name__}.")
        groups = list(groups)
        if not all(isinstance(group, Number) for group in groups):
            raise TypeError(
                f"{type(self).__name__}: groups are compared with the group_labels tensor, so they must be numbers "
                f"(e.g. [0, 1]), got {groups!r}."
            )
        if not groups or len({str(group) for group in groups}) != len(groups):
            raise ValueError(f"{type(self).__name__} needs a non-empty sequence of distinct groups, got {groups!r}.")
        self._base_metric = base_metric
        self._metrics: dict[Any, Metric] = {group: copy.deepcopy(base_metric) for group in groups}
        super().__init__(output_transform, device=device)

    def reset(self) -> None:
        """Forget the samples of every group."""
        for metric in self._metrics.values():
            metric.reset()

    def update(self, output: Any) -> None:
        """Feed each group's metric its samples of one batch ``(y_pred, y, group_labels)``."""
        kind = type(self).__name__
        if not isinstance(output, tuple | list) or len(output) != 3:
            raise TypeError(f"{kind}.update takes (y_pred, y, group_labels), got {type(output).__name__}.")
        y_pred, y, group_labels = (torch.as_tensor(item).detach() for item in output)
        if not y_pred.shape[:1] == y.shape[:1] == group_labels.shape[:1]:
            raise ValueError(
                f"{kind}: y_pred, y, and group_labels must have the same batch size, got {tuple(y_pred.shape)}, "
                f"{tuple(y.shape)} and {tuple(group_labels.shape)}."
            )
        for group, metric in self._metrics.items():
            members = group_labels == group
            if bool(members.any()):
                metric.update((y_pred[members], y[members]))

    def _values(self) -> dict[Any, Any]:
        """Each group's value; groups without samples (on every process) are left out."""
        values = {}
        for group, metric in self._metrics.items():
            try:
                values[group] = metric.compute()
            except NotComputableError:
                continue
        return values

    def _config(self) -> dict[str, Any]:
        return {"base_metric": type(self._base_metric).__name__, "groups": [str(group) for group in self._metrics]}

    def state_dict(self) -> dict[str, Any]:
        """The state of every group's metric, keyed by the group's ``str``."""
        states = {str(group): metric.state_dict() for group, metric in self._metrics.items()}
        return {"metric": type(self).__name__, "config": self._config(), "state": states}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore every group's metric from :meth:`state_dict`; a state of other groups is refused."""
        kind = type(self).__name__
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"metric", "config", "state"}:
            raise ValueError(f"{kind}.load_state_dict needs a mapping made by state_dict(), got {state_dict!r:.200}.")
        if state_dict["metric"] != kind or state_dict["config"] != self._config():
            raise ValueError(
                f"Cannot load a {state_dict['metric']} state made with {state_dict['config']} into a {kind} "
                f"with {self._config()}."
            )
        for group, metric in self._metrics.items():
            metric.load_state_dict(state_dict["state"][str(group)])
        self._restored = True


class SubgroupMetric(_Subgroups):
    """A base metric computed separately for each group of samples: ``{group: value}``.

    Args:
        base_metric: the metric to compute per group (copied for each group; it is not changed).
        groups: the group identifiers (numbers) found in ``group_labels``.
        output_transform: maps the engine's output to ``(y_pred, y, group_labels)``.
        device: where accumulators live.

    Example:
        >>> from cadence.metrics import Accuracy
        >>> per_group = SubgroupMetric(Accuracy(), groups=[0, 1])
        >>> per_group.update((torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 1, 1]), torch.tensor([0, 0, 1, 1])))
        >>> per_group.compute()
        {0: 0.5, 1: 1.0}
    """

    def compute(self) -> dict[Any, Any]:
        """The value of each group that has samples."""
        return self._values()


class SubgroupDifference(_Subgroups):
    """The largest difference of a base metric between two groups (for per-class values, the largest over classes).

    Args:
        base_metric, groups, output_transform, device: as for :class:`SubgroupMetric`.

    Example:
        >>> from cadence.metrics import Accuracy
        >>> gap = SubgroupDifference(Accuracy(), groups=[0, 1])
        >>> gap.update((torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 1, 1]), torch.tensor([0, 0, 1, 1])))
        >>> gap.compute()
        0.5
    """

    def compute(self) -> float:
        """``max - min`` of the groups' values; at least two groups must have samples."""
        values = list(self._values().values())
        if not values:
            raise NotComputableError("Fairness metrics must have at least one example before it can be computed.")
        if len(values) < 2:
            raise NotComputableError(
                "Fairness metrics require at least two unique subgroups to compute a disparity; only one group "
                "had samples."
            )
        stacked = torch.stack([torch.as_tensor(value, dtype=torch.float64).cpu() for value in values])
        return float((stacked.max(dim=0).values - stacked.min(dim=0).values).max())
