"""Factories for the usual supervised trainer and evaluator engines, and their step functions.

A *step function* is a process function ``step(engine, batch)``: it prepares the batch, runs the
model and (for training) the loss, backward pass and optimizer step. The ``create_supervised_*``
factories wrap a step function in an :class:`~cadence.Engine` and add the model-mode handling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from cadence.engine._amp import (
    _APEX_UNSUPPORTED,
    AmpMode,
    Device,
    _amp_mode,
    _default_amp_dtype,
    _device_type,
    _make_scaler,
)
from cadence.engine.deterministic import DeterministicEngine
from cadence.engine.engine import Engine
from cadence.engine.events import Events
from cadence.engine.micro_batching import MicroBatching
from cadence.utils import convert_tensor

__all__ = [
    "AmpMode",
    "BatchLayoutError",
    "convert_tensor",
    "create_supervised_evaluator",
    "create_supervised_trainer",
    "prepare_batch",
    "supervised_evaluation_step",
    "supervised_evaluation_step_amp",
    "supervised_training_step",
    "supervised_training_step_amp",
    "supervised_training_step_apex",
    "supervised_training_step_tpu",
]

PrepareBatch = Callable[..., tuple[Any, Any]]
StepFunction = Callable[[Engine[Any], Any], Any]


class AttachableMetric(Protocol):
    """Anything that can attach itself to an engine under a name (every cadence metric does).

    Example:
        >>> from cadence.metrics import Accuracy
        >>> metric: AttachableMetric = Accuracy()
        >>> callable(metric.attach)
        True
    """

    def attach(self, engine: Engine[Any], name: str) -> Any: ...


class BatchLayoutError(ValueError, TypeError):
    """The default :func:`prepare_batch` got a batch that is not an ``(x, y)`` pair.

    It is both a ``ValueError`` and a ``TypeError``: unpacking the batch raises either (too many or too few
    parts, or a batch that cannot be unpacked), and code written for Ignite may catch either.

    Example:
        >>> try:
        ...     prepare_batch(3)
        ... except TypeError as error:
        ...     print(type(error).__name__)
        BatchLayoutError
    """


def prepare_batch(batch: Sequence[Any], device: Device = None, non_blocking: bool = False) -> tuple[Any, Any]:
    """Split an ``(x, y)`` batch and move both parts to ``device``; the default ``prepare_batch``.

    Example:
        >>> x, y = prepare_batch((torch.zeros(2, 3), torch.ones(2)), device="cpu")
        >>> tuple(x.shape), tuple(y.shape)
        ((2, 3), (2,))
    """
    try:
        x, y = batch  # an (x, y) pair, or anything that unpacks into two (a tensor of two rows, as Ignite)
    except (TypeError, ValueError) as error:
        raise BatchLayoutError(
            f"The default prepare_batch expects an (x, y) pair, got {type(batch).__name__} ({error}); "
            "pass prepare_batch=fn(batch, device, non_blocking) -> (x, y) for other batch layouts."
        ) from None
    return convert_tensor(x, device, non_blocking), convert_tensor(y, device, non_blocking)


def _identity(output: Any) -> Any:
    return output


def _call_model(model: nn.Module, x: Any) -> Any:
    return model(x)


def _loss_value(x: Any, y: Any, y_pred: Any, loss: torch.Tensor) -> float:
    return loss.item()


def _prediction_and_target(x: Any, y: Any, y_pred: Any) -> tuple[Any, Any]:
    return y_pred, y


def _training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    *,
    device: Device,
    non_blocking: bool,
    prepare_batch: PrepareBatch,
    model_transform: Callable[[Any], Any],
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any],
    gradient_accumulation_steps: int,
    clip_grad_norm: float | None,
    model_fn: Callable[[nn.Module, Any], Any],
    autocast: tuple[str, torch.dtype] | None,
    scaler: torch.amp.GradScaler | None,
    oom_retry: bool = False,
) -> StepFunction:
    """The one training step; the public builders only choose its options."""
    if isinstance(gradient_accumulation_steps, bool) or not isinstance(gradient_accumulation_steps, int):
        raise TypeError(f"gradient_accumulation_steps must be an integer, got {gradient_accumulation_steps!r}.")
    if gradient_accumulation_steps < 1:
        raise ValueError(
            f"Gradient_accumulation_steps must be strictly positive. Got {gradient_accumulation_steps}; "
            "use 1 for an optimizer step at every iteration."
        )
    steps = gradient_accumulation_steps
    if clip_grad_norm is not None and (isinstance(clip_grad_norm, bool) or not clip_grad_norm > 0):
        raise ValueError(f"clip_grad_norm must be a positive number or None, got {clip_grad_norm!r}.")

    def forward(part: tuple[Any, Any]) -> tuple[torch.Tensor, Any]:
        with torch.autocast(autocast[0], dtype=autocast[1]) if autocast else contextlib.nullcontext():
            y_pred = model_transform(model_fn(model, part[0]))
            return loss_fn(y_pred, part[1]), y_pred

    def backward(loss: torch.Tensor) -> None:
        scaled = loss / steps if steps > 1 else loss
        (scaler.scale(scaled) if scaler is not None else scaled).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped

    micro_batching = MicroBatching() if oom_retry else None

    def step(engine: Engine[Any], batch: Any) -> Any:
        iteration = engine.state.iteration
        if (iteration - 1) % steps == 0:
            optimizer.zero_grad()
        x, y = prepare_batch(batch, device=device, non_blocking=non_blocking)
        if micro_batching is None:  # inline, as without oom_retry: no call more per iteration
            with torch.autocast(autocast[0], dtype=autocast[1]) if autocast else contextlib.nullcontext():
                y_pred = model_transform(model_fn(model, x))
                loss = loss_fn(y_pred, y)
            scaled = loss / steps if steps > 1 else loss
            (scaler.scale(scaled) if scaler is not None else scaled).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped
        else:  # a backward pass that fails mid-window cannot be retried: earlier iterations' gradients are mixed in
            restart = optimizer.zero_grad if (iteration - 1) % steps == 0 else None
            done = micro_batching.accumulate(engine, (x, y), forward, backward=backward, zero_grad=restart)
            loss, y_pred = done.loss, done.output
        if iteration % steps == 0:
            if scaler is not None:
                if clip_grad_norm is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                scaler.step(optimizer)
                scaler.update()
            else:
                if clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                optimizer.step()
        return output_transform(x, y, y_pred, loss)

    return step


def supervised_training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: PrepareBatch = prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any] = _loss_value,
    gradient_accumulation_steps: int = 1,
    model_fn: Callable[[nn.Module, Any], Any] = _call_model,
    *,
    clip_grad_norm: float | None = None,
) -> StepFunction:
    """Build a training step: forward, loss, backward and (every ``gradient_accumulation_steps``
    iterations) ``optimizer.step()``; it returns ``output_transform(x, y, y_pred, loss)`` (``loss.item()``).

    The loss is divided by ``gradient_accumulation_steps`` for the backward pass; gradients are zeroed
    at the first iteration of each accumulation window. The model's train/eval mode is left alone
    (:func:`create_supervised_trainer` sets ``model.train()`` at each epoch start).

    Example:
        >>> model = nn.Linear(2, 1)
        >>> step = supervised_training_step(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
        >>> loss = Engine(step).run([(torch.ones(4, 2), torch.zeros(4, 1))]).output
        >>> isinstance(loss, float)
        True
    """
    return _training_step(
        model, optimizer, loss_fn, device=device, non_blocking=non_blocking, prepare_batch=prepare_batch,
        model_transform=model_transform, output_transform=output_transform,
        gradient_accumulation_steps=gradient_accumulation_steps, clip_grad_norm=clip_grad_norm,
        model_fn=model_fn, autocast=None, scaler=None,
    )  # fmt: skip


def supervised_training_step_amp(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: PrepareBatch = prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any] = _loss_value,
    scaler: torch.amp.GradScaler | None = None,
    gradient_accumulation_steps: int = 1,
    model_fn: Callable[[nn.Module, Any], Any] = _call_model,
    *,
    clip_grad_norm: float | None = None,
    amp_dtype: torch.dtype | None = None,
) -> StepFunction:
    """Like :func:`supervised_training_step`, with the forward pass and loss under :func:`torch.autocast`.

    ``amp_dtype`` defaults to ``float16`` on CUDA and ``bfloat16`` elsewhere; a ``scaler`` scales the
    loss, unscales before gradient clipping and steps the optimizer.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> step = supervised_training_step_amp(model, optimizer, nn.MSELoss(), device="cpu")
        >>> isinstance(Engine(step).run([(torch.ones(4, 2), torch.zeros(4, 1))]).output, float)
        True
    """
    device_type = _device_type(device, model)
    dtype = amp_dtype if amp_dtype is not None else _default_amp_dtype(device_type)
    return _training_step(
        model, optimizer, loss_fn, device=device, non_blocking=non_blocking, prepare_batch=prepare_batch,
        model_transform=model_transform, output_transform=output_transform,
        gradient_accumulation_steps=gradient_accumulation_steps, clip_grad_norm=clip_grad_norm,
        model_fn=model_fn, autocast=(device_type, dtype), scaler=scaler,
    )  # fmt: skip


def _evaluation_step(
    model: nn.Module,
    *,
    device: Device,
    non_blocking: bool,
    prepare_batch: PrepareBatch,
    model_transform: Callable[[Any], Any],
    output_transform: Callable[[Any, Any, Any], Any],
    model_fn: Callable[[nn.Module, Any], Any],
    autocast: tuple[str, torch.dtype] | None,
) -> StepFunction:
    def step(engine: Engine[Any], batch: Any) -> Any:
        with torch.inference_mode():
            x, y = prepare_batch(batch, device=device, non_blocking=non_blocking)
            with torch.autocast(autocast[0], dtype=autocast[1]) if autocast else contextlib.nullcontext():
                y_pred = model_transform(model_fn(model, x))
            return output_transform(x, y, y_pred)

    return step


def supervised_evaluation_step(
    model: nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: PrepareBatch = prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any], Any] = _prediction_and_target,
    model_fn: Callable[[nn.Module, Any], Any] = _call_model,
) -> StepFunction:
    """Build an evaluation step: the forward pass under :func:`torch.inference_mode`, returning
    ``output_transform(x, y, y_pred)`` (by default ``(y_pred, y)``).

    Example:
        >>> step = supervised_evaluation_step(nn.Linear(2, 1))
        >>> y_pred, y = Engine(step).run([(torch.ones(4, 2), torch.zeros(4, 1))]).output
        >>> y_pred.shape, y_pred.is_inference()
        (torch.Size([4, 1]), True)
    """
    return _evaluation_step(
        model, device=device, non_blocking=non_blocking, prepare_batch=prepare_batch,
        model_transform=model_transform, output_transform=output_transform, model_fn=model_fn, autocast=None,
    )  # fmt: skip


def supervised_evaluation_step_amp(
    model: nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: PrepareBatch = prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any], Any] = _prediction_and_target,
    model_fn: Callable[[nn.Module, Any], Any] = _call_model,
    *,
    amp_dtype: torch.dtype | None = None,
) -> StepFunction:
    """Like :func:`supervised_evaluation_step`, with the forward pass under :func:`torch.autocast`.

    Example:
        >>> step = supervised_evaluation_step_amp(nn.Linear(2, 1), device="cpu")
        >>> Engine(step).run([(torch.ones(4, 2), torch.zeros(4, 1))]).output[0].dtype
        torch.bfloat16
    """
    device_type = _device_type(device, model)
    dtype = amp_dtype if amp_dtype is not None else _default_amp_dtype(device_type)
    return _evaluation_step(
        model, device=device, non_blocking=non_blocking, prepare_batch=prepare_batch,
        model_transform=model_transform, output_transform=output_transform, model_fn=model_fn,
        autocast=(device_type, dtype),
    )  # fmt: skip


def supervised_training_step_apex(*args: Any, **kwargs: Any) -> StepFunction:
    """Ignite's NVIDIA-Apex training step; cadence does not support Apex and raises a clear error.

    Use :func:`supervised_training_step_amp` (``torch.autocast`` with a ``torch.amp.GradScaler``), or
    ``create_supervised_trainer(..., amp_mode="amp", scaler=True)``.

    Example:
        >>> supervised_training_step_apex(nn.Linear(2, 1))
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: Please install apex from https://github.com/nvidia/apex to use amp_mode='apex'. ...
    """
    raise ModuleNotFoundError(_APEX_UNSUPPORTED)


def supervised_training_step_tpu(*args: Any, **kwargs: Any) -> StepFunction:
    """Ignite's TPU (torch_xla) training step; cadence runs on torch.distributed only and raises a clear error.

    Use :func:`supervised_training_step` on CPU or CUDA devices.

    Example:
        >>> supervised_training_step_tpu(nn.Linear(2, 1))
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: torch_xla cannot be imported, please install PyTorch XLA. ...
    """
    raise ModuleNotFoundError(
        "torch_xla cannot be imported, please install PyTorch XLA. cadence itself does not support TPUs: use "
        "supervised_training_step on CPU or CUDA devices (training goes through torch.distributed)."
    )


def _check_model(model: object) -> None:
    # As Ignite, any object used like a module is welcome: it is called, and its train()/eval() set its mode.
    missing = [f"{name}()" for name in ("train", "eval") if not callable(getattr(model, name, None))]
    missing = missing if callable(model) else ["__call__", *missing]
    if missing:
        raise TypeError(
            f"model must be a torch.nn.Module (or an object used like one, with __call__, train() and eval()), "
            f"got {type(model).__name__}, which has no {', '.join(missing)}."
        )


def _check_optimizer(optimizer: object) -> None:
    # As Ignite, any object used like an optimizer is welcome (wrappers that are no torch.optim.Optimizer).
    missing = [name for name in ("zero_grad", "step") if not callable(getattr(optimizer, name, None))]
    if missing:
        raise TypeError(
            "optimizer must be a torch.optim.Optimizer (or an object used like one, with zero_grad() and step()), "
            f"got {type(optimizer).__name__}, which has no {', '.join(name + '()' for name in missing)}."
        )


def create_supervised_trainer(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: PrepareBatch = prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any] = _loss_value,
    amp_mode: AmpMode | str | None = None,
    scaler: bool | torch.amp.GradScaler | None = None,
    gradient_accumulation_steps: int = 1,
    model_fn: Callable[[nn.Module, Any], Any] = _call_model,
    *,
    clip_grad_norm: float | None = None,
    amp_dtype: torch.dtype | None = None,
    deterministic: bool = False,
    seed: int = 0,
    oom_retry: bool = False,
) -> Engine[Any]:
    """Create an engine that trains ``model`` with ``optimizer`` on ``loss_fn``; ``model.train()`` is set
    at every ``EPOCH_STARTED`` (so an evaluation run between epochs does not leave it in eval mode).

    Each iteration runs ``x, y = prepare_batch(batch, device, non_blocking)``,
    ``y_pred = model_transform(model_fn(model, x))``, ``loss = loss_fn(y_pred, y)``, the backward pass and
    (every ``gradient_accumulation_steps`` iterations) the optimizer step, and returns
    ``output_transform(x, y, y_pred, loss)`` as ``engine.state.output``.

    Args:
        model: the model to train (a ``torch.nn.Module``).
        optimizer: the optimizer of the model's parameters.
        loss_fn: ``loss_fn(y_pred, y) -> scalar tensor``, e.g. ``nn.CrossEntropyLoss()``.
        device: where batches are moved (the model is not moved).
        non_blocking: move batches asynchronously (with pinned memory, to CUDA).
        prepare_batch: ``fn(batch, device, non_blocking) -> (x, y)``; the default takes a pair ``(x, y)``.
        model_transform: applied to the model's output before the loss (e.g. to pick one of several outputs).
        output_transform: ``fn(x, y, y_pred, loss)``, what each iteration returns; by default ``loss.item()``.
        amp_mode: ``"amp"`` runs forward and loss under :func:`torch.autocast` with ``amp_dtype``
            (default ``float16`` on CUDA, ``bfloat16`` elsewhere).
        scaler: ``True`` or a ``torch.amp.GradScaler`` scales the loss; ``None`` (default) makes one
            only for ``float16`` autocast; ``False`` never. A created scaler is ``engine.state.scaler``.
        gradient_accumulation_steps: iterations whose gradients add up before each optimizer step.
            Gradients are not part of a checkpoint: for an exact resume, checkpoint on a multiple of it
            (``Events.ITERATION_COMPLETED(every=k * gradient_accumulation_steps)``).
        model_fn: ``fn(model, x) -> output``, how the model is called (default: ``model(x)``).
        clip_grad_norm: clip the gradients' total norm to this value before each optimizer step.
        amp_dtype: the autocast dtype with ``amp_mode="amp"``.
        deterministic: return a :class:`~cadence.DeterministicEngine` seeded with ``seed``: reproducible,
            and resumable bit for bit from a checkpoint taken at any optimizer step.
        seed: the seed of the deterministic engine (with ``deterministic=True``).
        oom_retry: retry a batch that raises :class:`torch.OutOfMemoryError` as micro-batches of half the size
            (down to one sample), their gradients accumulated; the size that fits is kept in
            ``state.metrics["micro_batch_size"]``. Caveats: :class:`~cadence.engine.micro_batching.MicroBatching`.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
        >>> data = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(3)]
        >>> trainer.run(data, max_epochs=2).iteration
        6
    """
    _check_model(model)
    _check_optimizer(optimizer)
    amp = _amp_mode(amp_mode, scaler)
    device_type = _device_type(device, model)
    dtype = (amp_dtype if amp_dtype is not None else _default_amp_dtype(device_type)) if amp else None
    grad_scaler = _make_scaler(scaler, amp, device_type, dtype)
    step = _training_step(
        model, optimizer, loss_fn, device=device, non_blocking=non_blocking, prepare_batch=prepare_batch,
        model_transform=model_transform, output_transform=output_transform,
        gradient_accumulation_steps=gradient_accumulation_steps, clip_grad_norm=clip_grad_norm,
        model_fn=model_fn, autocast=(device_type, dtype) if dtype is not None else None, scaler=grad_scaler,
        oom_retry=bool(oom_retry),
    )  # fmt: skip
    trainer: Engine[Any] = DeterministicEngine(step, seed=seed) if deterministic else Engine(step)
    trainer.add_event_handler(Events.EPOCH_STARTED, _set_train_mode, model)
    if grad_scaler is not None:
        setattr(trainer.state, "scaler", grad_scaler)  # noqa: B010  # a user attribute of State, as in Ignite
    return trainer


def _set_train_mode(model: nn.Module) -> None:
    model.train()


class _EvalMode:
    """Puts the model in eval mode for an evaluation run and restores each module's mode afterwards."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.saved: list[tuple[nn.Module, bool]] = []

    def enter(self) -> None:
        modules = getattr(self.model, "modules", None)  # a model-like object without modules: eval() only
        if not self.saved and callable(modules):  # a resumed (interrupted) run keeps the first run's modes
            self.saved = [(module, module.training) for module in modules()]
        self.model.eval()

    def leave(self) -> None:
        for module, training in self.saved:
            module.training = training
        self.saved = []


def create_supervised_evaluator(
    model: nn.Module,
    metrics: Mapping[str, AttachableMetric] | None = None,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: PrepareBatch = prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any], Any] = _prediction_and_target,
    amp_mode: AmpMode | str | None = None,
    model_fn: Callable[[nn.Module, Any], Any] = _call_model,
    *,
    amp_dtype: torch.dtype | None = None,
) -> Engine[Any]:
    """Create an engine that runs ``model`` under :func:`torch.inference_mode` in eval mode and
    attaches ``metrics`` (each ``metric.attach(evaluator, name)``).

    The model's train/eval modes are saved when a run starts and restored when it completes, so
    evaluating in the middle of training leaves the training model as it was. Each iteration runs
    ``x, y = prepare_batch(batch, device, non_blocking)`` and ``y_pred = model_transform(model_fn(model, x))``,
    and returns ``output_transform(x, y, y_pred)``.

    Args:
        model: the model to evaluate (a ``torch.nn.Module``).
        metrics: metrics by name; each is attached to the evaluator and its value is in
            ``evaluator.state.metrics[name]`` after a run.
        device: where batches are moved (the model is not moved).
        non_blocking: move batches asynchronously (with pinned memory, to CUDA).
        prepare_batch: ``fn(batch, device, non_blocking) -> (x, y)``; the default takes a pair ``(x, y)``.
        model_transform: applied to the model's output (e.g. to pick one of several outputs).
        output_transform: ``fn(x, y, y_pred)``, what each iteration returns and the metrics receive;
            by default ``(y_pred, y)``.
        amp_mode: ``"amp"`` runs the forward pass under :func:`torch.autocast` with ``amp_dtype``
            (default ``float16`` on CUDA, ``bfloat16`` elsewhere).
        model_fn: ``fn(model, x) -> output``, how the model is called (default: ``model(x)``).
        amp_dtype: the autocast dtype with ``amp_mode="amp"``.

    Example:
        >>> model = nn.Linear(2, 1).train()
        >>> evaluator = create_supervised_evaluator(model)
        >>> y_pred, y = evaluator.run([(torch.ones(4, 2), torch.zeros(4, 1))]).output
        >>> y_pred.shape, model.training
        (torch.Size([4, 1]), True)
    """
    _check_model(model)
    metrics = dict(metrics or {})
    for name, metric in metrics.items():
        if not callable(getattr(metric, "attach", None)):
            raise TypeError(f"Metric {name!r} has no attach(engine, name) method: got {type(metric).__name__}.")
    amp = _amp_mode(amp_mode)
    device_type = _device_type(device, model)
    dtype = (amp_dtype if amp_dtype is not None else _default_amp_dtype(device_type)) if amp else None
    step = _evaluation_step(
        model, device=device, non_blocking=non_blocking, prepare_batch=prepare_batch,
        model_transform=model_transform, output_transform=output_transform, model_fn=model_fn,
        autocast=(device_type, dtype) if dtype is not None else None,
    )  # fmt: skip
    evaluator: Engine[Any] = Engine(step)
    modes = _EvalMode(model)
    evaluator.add_event_handler(Events.STARTED, modes.enter)
    evaluator.add_event_handler(Events.COMPLETED, modes.leave)
    for name, metric in metrics.items():
        metric.attach(evaluator, name)
    return evaluator
