"""Lower the learning rate when a validation metric stops improving (PyTorch's ``ReduceLROnPlateau`` rule)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import torch

from cadence.engine import Engine, Events, RemovableEventHandle
from cadence.handlers.scheduler_base import EventLike, OptimizerLike, ParamScheduler, ParamValue, fake_optimizer

__all__ = ["PlateauMode", "ReduceLROnPlateauScheduler", "ThresholdMode"]


class PlateauMode(Enum):
    """Whether the watched metric should go down (``MIN``, a loss) or up (``MAX``, an accuracy).

    Example:
        >>> PlateauMode("max")
        <PlateauMode.MAX: 'max'>
    """

    MIN = "min"
    MAX = "max"


class ThresholdMode(Enum):
    """Whether ``threshold`` is relative to the best value (``REL``) or an absolute margin (``ABS``).

    Example:
        >>> ThresholdMode("abs")
        <ThresholdMode.ABS: 'abs'>
    """

    REL = "rel"
    ABS = "abs"


def _non_negative_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


class ReduceLROnPlateauScheduler(ParamScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving for ``patience`` calls.

    Attach it to an evaluator's ``Events.COMPLETED``: each call reads ``engine.state.metrics[metric_name]``.
    The rule is PyTorch's ``ReduceLROnPlateau`` (``mode``, ``factor``, ``patience``, ``threshold``,
    ``threshold_mode``, ``cooldown``, ``min_lr``, ``eps``), here restricted to ``param_group_index`` if given.
    With ``save_history`` the values go to ``trainer.state.param_history`` (a trainer is needed).

    Args:
        optimizer: the optimizer whose ``"lr"`` is lowered.
        metric_name: the key of the watched value in ``engine.state.metrics``.
        trainer: the engine whose ``state.param_history`` receives the values (needed by ``save_history``).
        save_history: record each value in ``trainer.state.param_history["lr"]``.
        param_group_index: lower only this parameter group (then ``min_lr`` is one number).
        mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps: as in PyTorch.

    Example:
        >>> rows = ReduceLROnPlateauScheduler.simulate_values(
        ...     5, metric_values=[1.0, 0.9, 0.9, 0.9, 0.9], init_lr=0.1, patience=1, factor=0.5)
        >>> [v for _, v in rows]
        [0.1, 0.1, 0.1, 0.05, 0.05]
    """

    _state_attrs = ("event_index", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(
        self,
        optimizer: OptimizerLike,
        metric_name: str,
        trainer: Engine[Any] | None = None,
        save_history: bool = False,
        param_group_index: int | None = None,
        *,
        mode: PlateauMode | str = PlateauMode.MIN,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: ThresholdMode | str = ThresholdMode.REL,
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(optimizer, "lr", save_history=save_history, param_group_index=param_group_index)
        if not isinstance(metric_name, str):
            raise TypeError(f"metric_name must be the name of a metric in engine.state.metrics, got {metric_name!r}.")
        if save_history and trainer is None:
            raise ValueError("save_history=True needs trainer=: the history is kept in trainer.state.param_history.")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be between 0 and 1 (the lr is multiplied by it), got {factor!r}.")
        self.metric_name = metric_name
        self.trainer = trainer
        self.mode = PlateauMode(mode)
        self.threshold_mode = ThresholdMode(threshold_mode)
        self.factor, self.threshold, self.eps = float(factor), float(threshold), float(eps)
        self.patience = _non_negative_int("patience", patience)
        self.cooldown = _non_negative_int("cooldown", cooldown)
        self.min_lrs = self._check_min_lr(min_lr, len(self.optimizer_param_groups), param_group_index)
        self.best = math.inf if self.mode is PlateauMode.MIN else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @staticmethod
    def _check_min_lr(min_lr: float | Sequence[float], groups: int, param_group_index: int | None) -> list[float]:
        if isinstance(min_lr, numbers.Real):
            return [float(min_lr)] * groups
        if param_group_index is not None:
            raise TypeError(
                f"When param_group_index is given, min_lr should be a float, but given {type(min_lr).__name__}: "
                "only that group is scheduled."
            )
        if isinstance(min_lr, Sequence) and len(min_lr) == groups:
            return [float(v) for v in min_lr]
        raise ValueError(
            f"min_lr must be a number or one number per scheduled parameter group ({groups}), got {min_lr!r}."
        )

    def get_param(self) -> ParamValue:
        lrs = [float(g["lr"]) for g in self.optimizer_param_groups]
        return lrs[0] if len(lrs) == 1 else lrs

    def attach(self, engine: Engine[Any], event: EventLike = Events.COMPLETED) -> RemovableEventHandle:
        """Call this scheduler each time ``event`` (default: the evaluator's ``COMPLETED``) fires."""
        return engine.add_event_handler(event, self)

    def _is_better(self, value: float) -> bool:
        best, threshold = self.best, self.threshold
        if self.mode is PlateauMode.MIN:
            return value < (best * (1.0 - threshold) if self.threshold_mode is ThresholdMode.REL else best - threshold)
        return value > (best * (1.0 + threshold) if self.threshold_mode is ThresholdMode.REL else best + threshold)

    def step(self, value: float) -> None:
        """Take one metric value and lower the learning rate if it has plateaued (used by ``__call__``)."""
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer_param_groups, self.min_lrs, strict=True):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def resume_epoch(self, engine: Engine[Any]) -> None:
        """A call as any other (see :class:`~cadence.engine.EpochResumable`): this scheduler steps on metric
        values, not on epochs, so an epoch that a run continues changes nothing for it.

        Example:
            >>> import torch
            >>> from cadence import Engine, Events
            >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
            >>> scheduler = ReduceLROnPlateauScheduler(optimizer, "loss", patience=0, factor=0.5)
            >>> engine = Engine(lambda engine, batch: None)
            >>> engine.state.metrics["loss"] = 1.0
            >>> scheduler.resume_epoch(engine)  # the first value is the best so far
            >>> scheduler.resume_epoch(engine)  # no better: the learning rate halves
            >>> optimizer.param_groups[0]["lr"]
            0.5
        """
        self(engine)

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        metrics: Mapping[str, Any] = getattr(getattr(engine, "state", None), "metrics", None) or {}
        if self.metric_name not in metrics:
            raise ValueError(
                "Argument engine should have in its 'state', attribute 'metrics' which itself has the metric "
                f"{self.metric_name!r} (it has {sorted(metrics)}); attach the metric to the engine this scheduler "
                "listens to, or fix metric_name."
            )
        value = metrics[self.metric_name]
        self.step(float(value.item() if isinstance(value, torch.Tensor) else value))
        self._record(self.trainer, name)
        self.event_index += 1

    @classmethod
    def simulate_values(  # type: ignore[override]  # Ignite's signature: metric values and the initial lr
        cls, num_events: int, metric_values: Sequence[float], init_lr: float, **scheduler_kwargs: Any
    ) -> list[list[float]]:
        """Rows ``[event_index, lr]`` after each of ``metric_values`` (one per event) from ``init_lr``."""
        if len(metric_values) != num_events:
            raise ValueError(
                "Length of argument metric_values should be equal to num_events, one value per event: "
                f"{len(metric_values)} != {num_events}."
            )
        kwargs = {k: v for k, v in scheduler_kwargs.items() if k not in ("optimizer", "metric_name", "save_history")}
        scheduler = cls(fake_optimizer(value=init_lr), "metric", **kwargs)
        rows: list[list[float]] = []
        for index, value in enumerate(metric_values):
            scheduler.step(float(value))
            rows.append([index, float(scheduler.optimizer_param_groups[0]["lr"])])
        return rows
