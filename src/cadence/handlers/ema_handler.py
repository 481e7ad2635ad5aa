"""An exponential moving average (EMA) of a model's weights, updated as the trainer runs.

The averaged copy, ``ema_model``, usually evaluates better than the raw weights late in training. At each
update ``ema = (1 - momentum) * ema + momentum * weights``, with ``momentum`` read from
``engine.state.<name>`` so that a warm-up (built in) or any state scheduler can drive it.
"""

from __future__ import annotations

import copy
import enum
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cadence.engine import Engine, Events
from cadence.handlers._state_tree import loadable_state, unwrap
from cadence.handlers.scheduler_base import EventLike
from cadence.handlers.state_param_scheduler import LambdaStateScheduler

__all__ = ["EMABufferMode", "EMAHandler"]


class EMABufferMode(str, enum.Enum):
    """What the EMA model does with the model's buffers (BatchNorm statistics...); equal to Ignite's strings.

    ``COPY`` copies them at each update, ``UPDATE`` averages the floating-point ones (and copies the
    others), ``EMA_TRAIN`` leaves them alone and keeps the EMA model in train mode, so that it tracks its
    own statistics when it runs.

    Example:
        >>> EMABufferMode("update"), EMABufferMode.COPY == "copy"
        (<EMABufferMode.UPDATE: 'update'>, True)
    """

    COPY = "copy"
    UPDATE = "update"
    EMA_TRAIN = "ema_train"


@dataclass(frozen=True)
class _LinearWarmup:
    """The momentum of the n-th update (from 1): ``start`` at the first, straight to ``end`` at the ``steps``-th."""

    start: float
    end: float
    steps: int

    def __call__(self, update: int) -> float:
        progress = min(1.0, (update - 1) / max(1, self.steps - 1))
        return self.start + (self.end - self.start) * max(0.0, progress)


def _check_momentum(name: str, value: object, *, open_interval: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {value!r}.")
    number = float(value)
    inside = 0 < number < 1 if open_interval else 0 <= number <= 1
    if not inside:
        bounds = "between 0 and 1 (both excluded)" if open_interval else "between 0 and 1"
        raise ValueError(f"Invalid {name}: {value}; it must be {bounds}.")
    return number


class EMAHandler:
    """Keep ``ema_model``, an exponential moving average of ``model``'s weights, updated on a trainer event.

    Args:
        model: the trained model. For a ``DistributedDataParallel`` model the average is kept of
            ``model.module``, for a compiled one (``torch.compile(model)``) of the model it compiled (the EMA
            model is not compiled: compile it to evaluate it faster); a ``DataParallel`` model gives a
            ``DataParallel`` EMA model.
        momentum: the weight of the current weights at each update after the warm-up, in (0, 1).
        momentum_warmup: the momentum of the first update; it moves linearly to ``momentum`` over
            ``warmup_iters`` updates. Give both or neither.
        warmup_iters: the number of updates of the warm-up.
        handle_buffers: ``"copy"``, ``"update"`` or ``"ema_train"`` (see :class:`EMABufferMode`).

    Attributes:
        model: the model whose weights are averaged.
        ema_model: the averaged copy, on the model's device, without gradients, in eval mode (train mode
            with ``"ema_train"``).
        momentum_scheduler: the :class:`~cadence.handlers.LambdaStateScheduler` of the warm-up, or ``None``.

    Every process of a distributed run holds the same weights, so each keeps the same average without
    communicating. For an exact resume save the handler itself (``to_save={"ema": ema_handler, ...}``):
    its state holds the EMA weights and the warm-up position. A scheduler that drives the momentum
    (``PiecewiseLinearStateScheduler(param_name=name, ...)``) should be attached before the handler,
    so that each update uses the value set for its own iteration.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> model = torch.nn.Linear(1, 1, bias=False)
        >>> _ = torch.nn.init.ones_(model.weight)
        >>> def step(engine, batch):
        ...     with torch.no_grad():
        ...         model.weight.add_(1.0)
        >>> trainer = Engine(step)
        >>> ema = EMAHandler(model, momentum=0.5)
        >>> ema.attach(trainer)
        >>> _ = trainer.run(range(2))
        >>> model.weight.item(), ema.ema_model.weight.item(), trainer.state.ema_momentum
        (3.0, 2.25, 0.5)
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        momentum_warmup: float | None = None,
        warmup_iters: int | None = None,
        handle_buffers: str | EMABufferMode = "copy",
    ) -> None:
        self.momentum = _check_momentum("momentum", momentum, open_interval=True)
        if not isinstance(model, nn.Module):
            raise ValueError(
                f"model should be an instance of nn.Module or its subclasses, but got {type(model).__name__}."
            )
        try:
            self.handle_buffers = EMABufferMode(getattr(handle_buffers, "value", handle_buffers))
        except ValueError:
            raise ValueError(
                f"handle_buffers can only be one of 'copy', 'update', 'ema_train', but got {handle_buffers!r}."
            ) from None
        self.momentum_scheduler = self._warmup_scheduler(momentum_warmup, warmup_iters)
        model = unwrap(model, keep=nn.DataParallel)  # Ignite's: the average of a DataParallel is a DataParallel
        self.model = model
        self.ema_model = copy.deepcopy(model)
        for parameter in self.ema_model.parameters():
            parameter.requires_grad_(False)
        self.ema_model.train(self.handle_buffers is EMABufferMode.EMA_TRAIN)

    def _warmup_scheduler(self, start: float | None, steps: int | None) -> LambdaStateScheduler | None:
        if start is None and steps is None:
            return None
        if start is None or steps is None:
            raise ValueError(
                f"A momentum warm-up needs both momentum_warmup and warmup_iters, got momentum_warmup={start!r} "
                f"and warmup_iters={steps!r}; give both, or neither for a constant momentum."
            )
        start = _check_momentum("momentum_warmup", start, open_interval=False)
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"warmup_iters must be a positive integer, got {steps!r}.")
        warmup = _LinearWarmup(start, self.momentum, int(steps))
        return LambdaStateScheduler(warmup, param_name="ema_momentum", create_new=False)

    def attach(
        self,
        engine: Engine[Any],
        name: str = "ema_momentum",
        warn_if_exists: bool = True,
        event: EventLike = Events.ITERATION_COMPLETED,
    ) -> None:
        """Update the EMA model each time ``event`` fires, with the momentum in ``engine.state.<name>``.

        ``engine.state.<name>`` is created with ``momentum`` when it does not exist. When it does, a
        ``UserWarning`` says so (unless ``warn_if_exists=False``): another handler may own the name (give
        each EMA handler its own), or the value was restored on purpose.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"name must be an attribute name (a str), got {name!r}.")
        if hasattr(engine.state, name):
            if warn_if_exists:
                warnings.warn(
                    f"Attribute '{name}' already exists in Engine.state: the engine's state was loaded, or "
                    f"another handler created it. Give this EMA handler another name, or pass "
                    "warn_if_exists=False if the value was restored on purpose.",
                    UserWarning,
                    stacklevel=2,
                )
        else:
            setattr(engine.state, name, self.momentum)
        if self.momentum_scheduler is not None:
            self.momentum_scheduler.param_name = name
            engine.add_event_handler(event, self.momentum_scheduler)  # sets the momentum before the update
        engine.add_event_handler(event, self._update, name)

    def _update(self, engine: Engine[Any], name: str) -> None:
        momentum = float(getattr(engine.state, name))
        with torch.no_grad():
            for ema_parameter, parameter in zip(self.ema_model.parameters(), self.model.parameters(), strict=True):
                _blend(ema_parameter, parameter, momentum)
            if self.handle_buffers is EMABufferMode.EMA_TRAIN:
                return
            for ema_buffer, buffer in zip(self.ema_model.buffers(), self.model.buffers(), strict=True):
                if self.handle_buffers is EMABufferMode.UPDATE:
                    _blend(ema_buffer, buffer, momentum)
                else:
                    ema_buffer.copy_(buffer)

    def state_dict(self) -> dict[str, Any]:
        """The EMA model's weights and buffers, and the warm-up position (``None`` without a warm-up)."""
        scheduler = None if self.momentum_scheduler is None else self.momentum_scheduler.state_dict()
        return {"ema_model": self.ema_model.state_dict(), "momentum_scheduler": scheduler}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; keys and shapes are checked before anything changes."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"EMAHandler.load_state_dict expects a mapping, got {type(state_dict).__name__}.")
        if set(state_dict) != {"ema_model", "momentum_scheduler"}:
            raise ValueError(
                f"EMAHandler.load_state_dict expects the keys ['ema_model', 'momentum_scheduler'], got "
                f"{sorted(state_dict)}; was it saved by EMAHandler.state_dict()?"
            )
        scheduler_state = state_dict["momentum_scheduler"]
        if (scheduler_state is None) != (self.momentum_scheduler is None):
            raise ValueError(
                "EMAHandler.load_state_dict: the saved handler and this one disagree on the momentum warm-up "
                f"(saved: {scheduler_state!r}); build the handler with the same momentum_warmup and warmup_iters."
            )
        ema_state = loadable_state(self.ema_model, state_dict["ema_model"])  # also one saved with _orig_mod. keys
        _check_shapes(self.ema_model.state_dict(), ema_state)
        self.ema_model.load_state_dict(ema_state)
        if self.momentum_scheduler is not None:
            self.momentum_scheduler.load_state_dict(scheduler_state)


def _blend(average: torch.Tensor, current: torch.Tensor, momentum: float) -> None:
    """``average = (1 - momentum) * average + momentum * current`` in place; integers are copied."""
    if average.is_floating_point() or average.is_complex():
        average.mul_(1.0 - momentum).add_(current, alpha=momentum)
    else:
        average.copy_(current)


def _check_shapes(expected: Mapping[str, torch.Tensor], given: object) -> None:
    if not isinstance(given, Mapping):
        raise TypeError(f"EMAHandler.load_state_dict: 'ema_model' must be a state dict, got {type(given).__name__}.")
    missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"EMAHandler.load_state_dict: EMA model keys differ: missing {missing}, unexpected {unexpected}."
        )
    for key, tensor in expected.items():
        shape = getattr(given[key], "shape", None)
        if shape != tensor.shape:
            raise ValueError(
                f"EMAHandler.load_state_dict: {key!r} has shape {tuple(shape or ())}, expected {tuple(tensor.shape)}."
            )
