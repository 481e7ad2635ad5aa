"""Learning-rate schedulers: PyTorch's ``lr_scheduler`` as an event handler, warm-up, and reduce-on-plateau."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler as TorchLRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau

from cadence.engine import CallableEventWithFilter, Engine, Events, EventsList, RemovableEventHandle
from cadence.handlers.param_scheduler import (
    ConcatScheduler,
    ParamScheduler,
    ParamValue,
    _fake_optimizer,
    _preserved,
    _simulate,
)

__all__ = [
    "LRScheduler",
    "PlateauMode",
    "ReduceLROnPlateauScheduler",
    "ThresholdMode",
    "create_lr_scheduler_with_warmup",
]


def _one_or_list(values: list[float]) -> ParamValue:
    return values[0] if len(values) == 1 else values


class LRScheduler(ParamScheduler):
    """Step any ``torch.optim.lr_scheduler`` scheduler on an engine event.

    Attach it to a ``*_STARTED`` event (the default is ``Events.ITERATION_STARTED``): the n-th event
    (0-based) sets the learning rate that the torch scheduler gives after n steps, exactly as a plain
    loop that calls ``scheduler.step()`` after each ``optimizer.step()``. With ``use_legacy=True`` every
    call steps, which suits a ``*_COMPLETED`` event. The torch scheduler's state is part of
    :meth:`state_dict`.

    Note: Ignite runs *chainable* torch schedulers such as ``ExponentialLR`` one step ahead (its first
    iteration already uses ``lr * gamma``); cadence follows PyTorch's own loop instead.

    Example:
        >>> optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        >>> [v for _, v in LRScheduler.simulate_values(5, step_lr)]
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """

    _state_attrs = ("event_index", "lr_scheduler")

    def __init__(self, lr_scheduler: TorchLRScheduler, *, save_history: bool = False, use_legacy: bool = False) -> None:
        if isinstance(lr_scheduler, ReduceLROnPlateau):
            raise TypeError("ReduceLROnPlateau steps on a metric: use cadence's ReduceLROnPlateauScheduler instead.")
        if not isinstance(lr_scheduler, TorchLRScheduler):
            raise TypeError(
                f"lr_scheduler must be a torch.optim.lr_scheduler.LRScheduler, got {type(lr_scheduler).__name__}."
            )
        super().__init__(lr_scheduler.optimizer, "lr", save_history=save_history)
        self.lr_scheduler = lr_scheduler
        self.use_legacy = use_legacy

    def get_param(self) -> ParamValue:
        return _one_or_list([float(lr) for lr in self.lr_scheduler.get_last_lr()])

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        self._step_torch_scheduler()
        self._apply(self.get_param())
        self._record(engine, name)
        self.event_index += 1

    def _advance(self) -> None:
        self._step_torch_scheduler()
        self.event_index += 1

    def _step_torch_scheduler(self) -> None:
        if self.event_index > 0 or self.use_legacy:
            # Chainable torch schedulers read the group's lr: make sure it is theirs, whatever else wrote to it.
            self._apply(self.get_param())
            if getattr(self.lr_scheduler, "_step_count", 0) > 1:
                self.lr_scheduler.step()
                return
            with warnings.catch_warnings():
                # torch warns when its first step comes before an optimizer step; after a resume it legitimately may.
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
                self.lr_scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"event_index": self.event_index, "lr_scheduler": self.lr_scheduler.state_dict()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"event_index", "lr_scheduler"}:
            raise ValueError(
                "LRScheduler.load_state_dict needs exactly the keys ['event_index', 'lr_scheduler'], "
                f"got {sorted(state_dict) if isinstance(state_dict, Mapping) else state_dict!r}."
            )
        self.lr_scheduler.load_state_dict(dict(state_dict["lr_scheduler"]))
        self.event_index = int(state_dict["event_index"])

    @classmethod
    def simulate_values(  # type: ignore[override]  # Ignite's signature: takes the torch scheduler
        cls, num_events: int, lr_scheduler: TorchLRScheduler, **kwargs: Any
    ) -> list[list[float]]:
        """Rows ``[event_index, lr...]``; the torch scheduler and its optimizer are left as they were."""
        scheduler = cls(lr_scheduler, **kwargs)
        with _preserved([scheduler]):
            return _simulate(scheduler, num_events)


class _LinearWarmup(ParamScheduler):
    """From ``start`` to each group's ``ends`` value linearly over ``duration`` events (both ends included)."""

    _state_attrs = ("event_index",)

    def __init__(
        self, optimizer: Optimizer, param_name: str, start: float, ends: list[float], duration: int, **kwargs: Any
    ) -> None:
        super().__init__(optimizer, param_name, **kwargs)
        self.start, self.ends, self.duration = start, ends, duration

    def get_param(self) -> ParamValue:
        fraction = min(self.event_index / (self.duration - 1), 1.0)
        return _one_or_list([self.start + (end - self.start) * fraction for end in self.ends])


def create_lr_scheduler_with_warmup(
    lr_scheduler: ParamScheduler | TorchLRScheduler,
    warmup_start_value: float,
    warmup_duration: int,
    warmup_end_value: float | None = None,
    *,
    save_history: bool = False,
    output_simulated_values: list[Any] | None = None,
) -> ConcatScheduler:
    """A linear warm-up over ``warmup_duration`` events, then ``lr_scheduler``.

    The warm-up goes from ``warmup_start_value`` to ``warmup_end_value``, both reached. Without
    ``warmup_end_value`` it ends at the scheduler's own first value (per parameter group), which is not
    repeated: the scheduler goes on from its second value. ``output_simulated_values``, a list of length n,
    is filled with the first n rows ``[event_index, lr...]``.

    Example:
        >>> optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
        >>> rows = [None] * 6
        >>> scheduler = create_lr_scheduler_with_warmup(
        ...     decay, warmup_start_value=0.0, warmup_duration=3, output_simulated_values=rows)
        >>> [v for _, v in rows]
        [0.0, 0.05, 0.1, 0.05, 0.025, 0.0125]
    """
    if isinstance(lr_scheduler, TorchLRScheduler):
        lr_scheduler = LRScheduler(lr_scheduler)
    if not isinstance(lr_scheduler, ParamScheduler):
        raise TypeError(
            f"lr_scheduler must be a torch LRScheduler or a cadence ParamScheduler, got {type(lr_scheduler).__name__}."
        )
    if isinstance(warmup_duration, bool) or not isinstance(warmup_duration, int) or warmup_duration < 2:
        raise ValueError(f"warmup_duration must be an integer >= 2 (events), got {warmup_duration!r}.")
    if output_simulated_values is not None and not isinstance(output_simulated_values, list):
        kind = type(output_simulated_values).__name__
        raise TypeError(f"output_simulated_values must be a list to fill, got {kind}.")
    groups = len(lr_scheduler.optimizer_param_groups)
    if warmup_end_value is None:
        first = lr_scheduler.get_param()
        ends = [float(v) for v in first] if isinstance(first, list) else [float(first)] * groups
        lr_scheduler._advance()  # the warm-up's last value stands for the scheduler's first
    else:
        ends = [float(warmup_end_value)] * groups
    warmup = _LinearWarmup(
        lr_scheduler.optimizer,
        lr_scheduler.param_name,
        float(warmup_start_value),
        ends,
        warmup_duration,
        param_group_index=lr_scheduler.param_group_index,
    )
    schedulers: list[ParamScheduler] = [warmup, lr_scheduler]
    if output_simulated_values is not None:
        rows = ConcatScheduler.simulate_values(len(output_simulated_values), schedulers, [warmup_duration])
        output_simulated_values[:] = rows
    return ConcatScheduler(schedulers, [warmup_duration], save_history=save_history)


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
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return value


class ReduceLROnPlateauScheduler(ParamScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving for ``patience`` calls.

    Attach it to an evaluator's ``Events.COMPLETED``: each call reads ``engine.state.metrics[metric_name]``.
    The rule is PyTorch's ``ReduceLROnPlateau`` (``mode``, ``factor``, ``patience``, ``threshold``,
    ``threshold_mode``, ``cooldown``, ``min_lr``, ``eps``), here restricted to ``param_group_index`` if given.
    With ``save_history`` the values go to ``trainer.state.param_history`` (a trainer is needed).

    Example:
        >>> rows = ReduceLROnPlateauScheduler.simulate_values(
        ...     5, metric_values=[1.0, 0.9, 0.9, 0.9, 0.9], init_lr=0.1, patience=1, factor=0.5)
        >>> [v for _, v in rows]
        [0.1, 0.1, 0.1, 0.05, 0.05]
    """

    _state_attrs = ("event_index", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(
        self,
        optimizer: Optimizer,
        metric_name: str,
        *,
        trainer: Engine[Any] | None = None,
        save_history: bool = False,
        param_group_index: int | None = None,
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
        self.min_lrs = self._check_min_lr(min_lr, len(self.optimizer_param_groups))
        self.best = math.inf if self.mode is PlateauMode.MIN else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @staticmethod
    def _check_min_lr(min_lr: float | Sequence[float], groups: int) -> list[float]:
        if isinstance(min_lr, numbers.Real):
            return [float(min_lr)] * groups
        if isinstance(min_lr, Sequence) and len(min_lr) == groups:
            return [float(v) for v in min_lr]
        raise ValueError(
            f"min_lr must be a number or one number per scheduled parameter group ({groups}), got {min_lr!r}."
        )

    def get_param(self) -> ParamValue:
        return _one_or_list([float(g["lr"]) for g in self.optimizer_param_groups])

    def attach(
        self,
        engine: Engine[Any],
        event_name: CallableEventWithFilter | EventsList | str = Events.COMPLETED,
    ) -> RemovableEventHandle:
        """Call this scheduler each time ``event_name`` (default: the evaluator's ``COMPLETED``) fires."""
        return engine.add_event_handler(event_name, self)

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

    def __call__(self, engine: Engine[Any] | None = None, name: str | None = None) -> None:
        if engine is None:
            raise ValueError("ReduceLROnPlateauScheduler must be called with the engine that holds the metric.")
        metrics = engine.state.metrics
        if self.metric_name not in metrics:
            raise ValueError(
                f"Metric {self.metric_name!r} is not in engine.state.metrics (it has {sorted(metrics)}); attach "
                "the metric to the engine this scheduler listens to, or fix metric_name."
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
            raise ValueError(f"metric_values needs one value per event ({num_events}), got {len(metric_values)}.")
        scheduler = cls(_fake_optimizer(value=init_lr), "metric", **scheduler_kwargs)
        rows: list[list[float]] = []
        for index, value in enumerate(metric_values):
            scheduler.step(float(value))
            rows.append([index, float(scheduler.optimizer_param_groups[0]["lr"])])
        return rows
