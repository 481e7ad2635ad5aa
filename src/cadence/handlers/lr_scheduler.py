"""Learning-rate schedulers: PyTorch's ``lr_scheduler`` as an event handler, and a linear warm-up in front."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from torch.optim.lr_scheduler import LRScheduler as TorchLRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau

from cadence.engine import Engine
from cadence.handlers.combined_scheduler import ConcatScheduler
from cadence.handlers.scheduler_base import OptimizerLike, ParamScheduler, ParamValue, preserved, simulate

__all__ = ["LRScheduler", "create_lr_scheduler_with_warmup"]


def _one_or_list(values: list[float]) -> ParamValue:
    return values[0] if len(values) == 1 else values


def _check_torch_scheduler(lr_scheduler: object) -> None:
    if isinstance(lr_scheduler, ReduceLROnPlateau):
        raise TypeError("ReduceLROnPlateau steps on a metric: use cadence's ReduceLROnPlateauScheduler instead.")
    if not isinstance(lr_scheduler, TorchLRScheduler):
        raise TypeError(
            "Argument lr_scheduler should be a subclass of torch.optim.lr_scheduler.LRScheduler, "
            f"but given {type(lr_scheduler).__name__}."
        )


class LRScheduler(ParamScheduler):
    """Step any ``torch.optim.lr_scheduler`` scheduler on an engine event.

    Attach it to a ``*_STARTED`` event (the default is ``Events.ITERATION_STARTED``): the n-th event
    (0-based) sets the learning rate that the torch scheduler gives after n steps, exactly as a plain
    loop that calls ``scheduler.step()`` after each ``optimizer.step()``. With ``use_legacy=True`` every
    call steps, which suits a ``*_COMPLETED`` event. The torch scheduler's state is part of
    :meth:`state_dict`.

    Note: Ignite runs *chainable* torch schedulers such as ``ExponentialLR`` one step ahead (its first
    iteration already uses ``lr * gamma``); cadence follows PyTorch's own loop instead.

    Args:
        lr_scheduler: the torch scheduler to step (not ``ReduceLROnPlateau``: see
            :class:`~cadence.handlers.ReduceLROnPlateauScheduler`).
        save_history: record each value in ``engine.state.param_history["lr"]``.
        use_legacy: step on every call, for a scheduler attached to ``Events.ITERATION_COMPLETED``.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        >>> [v for _, v in LRScheduler.simulate_values(5, step_lr)]
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """

    _state_attrs = ("event_index", "lr_scheduler")

    def __init__(self, lr_scheduler: TorchLRScheduler, save_history: bool = False, use_legacy: bool = False) -> None:
        _check_torch_scheduler(lr_scheduler)
        super().__init__(lr_scheduler.optimizer, "lr", save_history=save_history)
        if use_legacy:
            warnings.warn(
                "LRScheduler(use_legacy=True) steps on every call: attach it to Events.ITERATION_COMPLETED, not "
                "Events.ITERATION_STARTED, to use the first lr value from the optimizer, otherwise it will be skipped.",
                UserWarning,
                stacklevel=2,
            )
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
        self._check_state_keys(state_dict, self._state_attrs)
        self.lr_scheduler.load_state_dict(dict(state_dict["lr_scheduler"]))
        self.event_index = int(state_dict["event_index"])

    @classmethod
    def simulate_values(  # type: ignore[override]  # Ignite's signature: takes the torch scheduler
        cls, num_events: int, lr_scheduler: TorchLRScheduler, **kwargs: Any
    ) -> list[list[float]]:
        """Rows ``[event_index, lr...]``; the torch scheduler and its optimizer are left as they were."""
        _check_torch_scheduler(lr_scheduler)
        kwargs.pop("save_history", None)
        scheduler = cls(lr_scheduler, **kwargs)
        with preserved([scheduler]):
            return simulate(scheduler, num_events)


class _LinearWarmup(ParamScheduler):
    """From ``start`` to each group's ``ends`` value linearly over ``duration`` events (both ends included)."""

    _state_attrs = ("event_index",)

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        start: float,
        ends: list[float],
        duration: int,
        param_group_index: int | None,
    ) -> None:
        super().__init__(optimizer, param_name, param_group_index=param_group_index)
        self.start, self.ends, self.duration = start, ends, duration

    def get_param(self) -> ParamValue:
        fraction = min(self.event_index / (self.duration - 1), 1.0)
        return _one_or_list([self.start + (end - self.start) * fraction for end in self.ends])


def create_lr_scheduler_with_warmup(
    lr_scheduler: ParamScheduler | TorchLRScheduler,
    warmup_start_value: float,
    warmup_duration: int,
    warmup_end_value: float | None = None,
    save_history: bool = False,
    output_simulated_values: list[Any] | None = None,
) -> ConcatScheduler:
    """A linear warm-up over ``warmup_duration`` events, then ``lr_scheduler``.

    The warm-up goes from ``warmup_start_value`` to ``warmup_end_value``, both reached, then the scheduler
    starts from its first value. Where the warm-up ends at that first value (always so without
    ``warmup_end_value``), it is not repeated: the scheduler goes on from its second value.

    Args:
        lr_scheduler: a torch scheduler or a cadence :class:`ParamScheduler` on ``"lr"``.
        warmup_start_value: the learning rate of the first event.
        warmup_duration: the number of warm-up events, at least 2.
        warmup_end_value: the warm-up's last value (default: the scheduler's first value, per group).
        save_history: record each value in ``engine.state.param_history["lr"]``.
        output_simulated_values: a list of length n, filled with the first n rows ``[event_index, lr...]``.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
        >>> rows = [None] * 6
        >>> scheduler = create_lr_scheduler_with_warmup(
        ...     decay, warmup_start_value=0.0, warmup_duration=3, output_simulated_values=rows)
        >>> [v for _, v in rows]
        [0.0, 0.05, 0.1, 0.05, 0.025, 0.0125]
    """
    if isinstance(lr_scheduler, TorchLRScheduler):
        _check_torch_scheduler(lr_scheduler)
        lr_scheduler = LRScheduler(lr_scheduler)
    if not isinstance(lr_scheduler, ParamScheduler):
        raise TypeError(
            "Argument lr_scheduler should be a subclass of torch.optim.lr_scheduler.LRScheduler or ParamScheduler, "
            f"but given {type(lr_scheduler).__name__}."
        )
    if isinstance(warmup_duration, bool) or not isinstance(warmup_duration, numbers.Integral):
        raise TypeError(f"Argument warmup_duration should be integer, but given {warmup_duration!r}.")
    if warmup_duration < 2:
        raise ValueError(f"Argument warmup_duration should be at least 2 events, but given {warmup_duration}.")
    if output_simulated_values is not None and not isinstance(output_simulated_values, list):
        raise TypeError(
            "Argument output_simulated_values should be a list of None, e.g. `[None] * 100`, "
            f"but given {type(output_simulated_values).__name__}."
        )
    groups = len(lr_scheduler.optimizer_param_groups)
    first = lr_scheduler._value()
    firsts = [float(v) for v in first] if isinstance(first, list) else [float(first)] * groups
    ends = firsts if warmup_end_value is None else [float(warmup_end_value)] * groups
    if ends == firsts:
        lr_scheduler._advance()  # the warm-up's last value stands for the scheduler's first
    warmup = _LinearWarmup(
        lr_scheduler.optimizer,
        lr_scheduler.param_name,
        float(warmup_start_value),
        ends,
        int(warmup_duration),
        lr_scheduler.param_group_index,
    )
    schedulers: list[ParamScheduler] = [warmup, lr_scheduler]
    if output_simulated_values is not None:
        rows = ConcatScheduler.simulate_values(len(output_simulated_values), schedulers, [warmup_duration])
        output_simulated_values[:] = rows
    return ConcatScheduler(schedulers, [int(warmup_duration)], save_history=save_history)
