"""The learning-rate range test (fastai's LR finder): raise the lr each iteration, watch the loss, pick an lr."""

from __future__ import annotations

import copy
import logging
import math
import numbers
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch.optim import Optimizer

from cadence import distributed as idist
from cadence.engine import Engine, Events
from cadence.handlers.checkpointer import Checkpoint as Checkpoint
from cadence.handlers.combined_scheduler import ParamGroupScheduler as ParamGroupScheduler
from cadence.handlers.lr_scheduler import LRScheduler as LRScheduler
from cadence.handlers.piecewise_linear import PiecewiseLinear as PiecewiseLinear
from cadence.handlers.scheduler_base import ParamScheduler

__all__ = ["FastaiLRFinder"]

_STEP_MODES = ("exp", "linear")


class _RangeTestSchedule(ParamScheduler):
    """The lr of iteration ``i`` (0-based) of an ``n``-iteration range test, per parameter group.

    ``exp`` reaches ``end`` at the last iteration, growing geometrically from ``start``'s first step;
    ``linear`` starts at ``start`` and grows by ``(end - start) / n``. Both stay at ``end`` afterwards.
    """

    def __init__(
        self, optimizer: Optimizer, starts: list[float], ends: list[float], num_iter: int, step_mode: str
    ) -> None:
        super().__init__(optimizer, "lr")
        self.starts, self.ends, self.num_iter, self.step_mode = starts, ends, num_iter, step_mode

    def get_param(self) -> float | list[float]:
        if self.step_mode == "exp":
            fraction = min((self.event_index + 1) / self.num_iter, 1.0)
            lrs = [start * (end / start) ** fraction for start, end in zip(self.starts, self.ends, strict=True)]
        else:
            fraction = min(self.event_index / self.num_iter, 1.0)
            lrs = [start + (end - start) * fraction for start, end in zip(self.starts, self.ends, strict=True)]
        return lrs[0] if len(lrs) == 1 else lrs


def _check_lrs(name: str, value: object, groups: int) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, float):
        return [value] * groups
    if isinstance(value, list):
        if len(value) != groups:
            raise ValueError(
                f"Number of values of {name} should be equal to optimizer values (one per parameter group): "
                f"{name} values: {len(value)}, optimizer values: {groups}."
            )
        return [float(v) for v in value]
    raise TypeError(f"{name} should be a float or list of floats, but given {type(value).__name__} (write 1.0, not 1).")


def _check_to_save(to_save: object) -> Optimizer:
    if not isinstance(to_save, Mapping):
        raise TypeError(f"Argument to_save should be a mapping, but given {type(to_save).__name__}.")
    for obj in to_save.values():
        for method in ("state_dict", "load_state_dict"):
            if not callable(getattr(obj, method, None)):
                raise TypeError(f"Object {type(obj)} should have `{method}` method: it is saved and restored.")
    if "optimizer" not in to_save:
        raise ValueError("Mapping to_save should contain 'optimizer' key: its learning rate is the one tested.")
    optimizer = to_save["optimizer"]
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"Object to_save['optimizer'] should be torch optimizer, but given {type(optimizer).__name__}.")
    return optimizer


def _scalar_loss(output: object) -> float:
    if isinstance(output, torch.Tensor):
        if output.numel() != 1 or output.ndim > 1:
            raise ValueError(
                "if output of the engine is torch.Tensor, then it must be 0d torch.Tensor or 1d torch.Tensor with "
                f"1 element, but got torch.Tensor of shape {tuple(output.shape)}."
            )
        return float(output.item())
    if isinstance(output, numbers.Real) and not isinstance(output, bool):
        return float(output)
    raise TypeError(
        "output of the engine should be of type float or 0d torch.Tensor or 1d torch.Tensor with 1 element, but got "
        f"output of type {type(output).__name__}; pass output_transform= to attach to pick the loss out of it."
    )


class FastaiLRFinder:
    """Find a good learning rate: a short run whose lr grows every iteration, watching the loss.

    Use :meth:`attach` as a context manager around a run of the trainer. The lr goes from ``start_lr``
    (default: the optimizer's) to ``end_lr`` over ``num_iter`` iterations (default: the whole run),
    geometrically (``step_mode="exp"``) or linearly; the run stops early when the smoothed loss exceeds
    ``diverge_th`` times the best loss. On leaving the ``with`` block the trainer and every object of
    ``to_save`` (model, optimizer...) are restored as they were. Then :meth:`get_results` has the
    ``lr`` and ``loss`` of each iteration, :meth:`lr_suggestion` the lr where the loss fell fastest,
    and :meth:`plot` draws the curve (with matplotlib: ``pip install matplotlib``).

    Each logged pair is the lr an iteration used and that iteration's loss.

    Example:
        >>> import torch
        >>> from cadence.engine import create_supervised_trainer
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Linear(4, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        >>> trainer = create_supervised_trainer(model, optimizer, torch.nn.MSELoss())
        >>> data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(40)]
        >>> finder = FastaiLRFinder()
        >>> with finder.attach(trainer, {"model": model, "optimizer": optimizer}, end_lr=100.0) as finding:
        ...     _ = finding.run(data)
        >>> results = finder.get_results()
        >>> len(results["lr"]) == len(results["loss"]) > 0, optimizer.param_groups[0]["lr"]
        (True, 0.0001)
    """

    def __init__(self) -> None:
        self._history: dict[str, list[Any]] = {}
        self._diverge_flag = False
        self._best_loss: float | None = None
        self._lr_schedule: ParamScheduler | None = None
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    @contextmanager
    def attach(
        self,
        trainer: Engine[Any],
        to_save: Mapping[str, Any],
        output_transform: Callable[[Any], Any] = lambda output: output,
        num_iter: int | None = None,
        start_lr: float | list[float] | None = None,
        end_lr: float | list[float] | None = 10.0,
        step_mode: str = "exp",
        smooth_f: float = 0.05,
        diverge_th: float = 5.0,
    ) -> Iterator[Engine[Any]]:
        """Prepare ``trainer`` for a range test; yield it to run, then restore it and ``to_save``.

        Args:
            trainer: the training engine (its output, after ``output_transform``, is the loss).
            to_save: the objects to restore afterwards; must hold the ``"optimizer"``.
            output_transform: picks the loss out of ``trainer.state.output``.
            num_iter: iterations of the test (default: the whole run); the run is extended if needed.
            start_lr: the first lr, one float or one per parameter group (default: the optimizer's).
            end_lr: the last lr, one float or one per parameter group.
            step_mode: ``"exp"`` (geometric steps) or ``"linear"``.
            smooth_f: exponential smoothing of the loss, in ``[0, 1)``.
            diverge_th: stop when the loss exceeds this many times the best loss (> 1).
        """
        optimizer = _check_to_save(to_save)
        if not 0.0 <= smooth_f < 1.0:
            raise ValueError(f"smooth_f is outside the range [0, 1], given {smooth_f}: it must be >= 0 and < 1.")
        if diverge_th < 1:
            raise ValueError(f"diverge_th should be larger than 1, given {diverge_th}.")
        if step_mode not in _STEP_MODES:
            raise ValueError(f"step_mode should be 'exp' or 'linear', but given {step_mode!r}.")
        if num_iter is not None:
            if isinstance(num_iter, bool) or not isinstance(num_iter, numbers.Integral):
                raise TypeError(f"if provided, num_iter should be an integer, but given {num_iter!r}.")
            if num_iter <= 0:
                raise ValueError(f"if provided, num_iter should be positive, but given {num_iter}.")
        groups = len(optimizer.param_groups)
        starts = _check_lrs("start_lr", start_lr, groups) or [float(g["lr"]) for g in optimizer.param_groups]
        ends = _check_lrs("end_lr", end_lr, groups)
        if ends is None:
            raise TypeError("end_lr should be a float or list of floats, but given None.")
        for start, end in zip(starts, ends, strict=True):
            if start >= end:
                raise ValueError(f"start_lr must be less than end_lr, start_lr={start_lr} vs end_lr={end_lr}.")

        saved = {key: copy.deepcopy(obj.state_dict()) for key, obj in to_save.items()}
        saved_trainer = copy.deepcopy(trainer.state_dict())
        settings = (optimizer, output_transform, num_iter, starts, ends, step_mode, smooth_f, diverge_th)
        trainer.add_event_handler(Events.STARTED, self._run, *settings)
        trainer.add_event_handler(Events.COMPLETED, self._warning)
        trainer.add_event_handler(Events.COMPLETED, self._reset)
        try:
            yield trainer
        finally:
            self._detach(trainer)
            self._reset(trainer)
            trainer.load_state_dict(saved_trainer)
            for key, obj in to_save.items():
                obj.load_state_dict(saved[key])

    def _run(
        self,
        trainer: Engine[Any],
        optimizer: Optimizer,
        output_transform: Callable[[Any], Any],
        num_iter: int | None,
        starts: list[float],
        ends: list[float],
        step_mode: str,
        smooth_f: float,
        diverge_th: float,
    ) -> None:
        self._history = {"lr": [], "loss": []}
        self._best_loss = None
        self._diverge_flag = False
        state = trainer.state
        planned = (state.epoch_length or 0) * (state.max_epochs or 0)
        if num_iter is None:
            num_iter = planned
        elif planned < num_iter and state.epoch_length:
            state.max_iters = num_iter
            state.max_epochs = math.ceil(num_iter / state.epoch_length)
        if num_iter <= 0:
            raise ValueError("FastaiLRFinder needs the run's length: give num_iter= to attach, or data with a length.")
        self.logger.debug("Running the LR finder for %d iterations", num_iter)
        self._lr_schedule = _RangeTestSchedule(optimizer, starts, ends, int(num_iter), step_mode)
        trainer.add_event_handler(Events.ITERATION_STARTED, self._lr_schedule)
        trainer.add_event_handler(
            Events.ITERATION_COMPLETED, self._log_lr_and_loss, output_transform, smooth_f, diverge_th
        )
        trainer.add_event_handler(Events.ITERATION_COMPLETED, self._reached_num_iterations, num_iter)

    def _log_lr_and_loss(
        self, trainer: Engine[Any], output_transform: Callable[[Any], Any], smooth_f: float, diverge_th: float
    ) -> None:
        loss = _scalar_loss(output_transform(trainer.state.output))
        loss = idist.all_reduce(loss) / idist.get_world_size()  # every process logs the same mean loss
        assert self._lr_schedule is not None
        groups = self._lr_schedule.optimizer_param_groups
        lrs = [float(group["lr"]) for group in groups]
        losses = self._history["loss"]
        if losses and smooth_f > 0:
            loss = smooth_f * loss + (1 - smooth_f) * losses[-1]
        if self._best_loss is None or loss < self._best_loss:
            self._best_loss = loss
        self._history["lr"].append(lrs[0] if len(lrs) == 1 else lrs)
        losses.append(loss)
        if loss > diverge_th * self._best_loss:
            self._diverge_flag = True
            self.logger.info("Stopping early, the loss has diverged")
            trainer.terminate()

    def _reached_num_iterations(self, trainer: Engine[Any], num_iter: int) -> None:
        if trainer.state.iteration > num_iter:
            trainer.terminate()

    def _warning(self, _: Engine[Any]) -> None:
        if not self._diverge_flag:
            warnings.warn(
                "Run completed without loss diverging, increase end_lr, decrease diverge_th or look at "
                "lr_finder.plot()",
                UserWarning,
                stacklevel=2,
            )

    def _reset(self, trainer: Engine[Any]) -> None:
        """Remove the per-iteration handlers of a run."""
        handlers: list[tuple[Callable[..., Any], Any]] = [
            (self._log_lr_and_loss, Events.ITERATION_COMPLETED),
            (self._reached_num_iterations, Events.ITERATION_COMPLETED),
        ]
        if self._lr_schedule is not None:
            handlers.append((self._lr_schedule, Events.ITERATION_STARTED))
        for handler, event in handlers:
            if trainer.has_event_handler(handler, event):
                trainer.remove_event_handler(handler, event)

    def _detach(self, trainer: Engine[Any]) -> None:
        for handler, event in ((self._run, Events.STARTED), (self._warning, Events.COMPLETED)):
            if trainer.has_event_handler(handler, event):
                trainer.remove_event_handler(handler, event)
        if trainer.has_event_handler(self._reset, Events.COMPLETED):
            trainer.remove_event_handler(self._reset, Events.COMPLETED)

    def get_results(self) -> dict[str, list[Any]]:
        """``{"lr": [...], "loss": [...]}``: per iteration, the lr (a list per group if several) and the loss."""
        return self._history

    def lr_suggestion(self) -> Any:
        """The lr where the loss fell fastest before its minimum (a list, one per group, if several)."""
        if not self._history:
            raise RuntimeError("learning rate finder didn't run yet so lr_suggestion can't be returned")
        losses = [float(v) for v in self._history["loss"]]
        lowest = min(range(len(losses)), key=losses.__getitem__)
        falling = losses[: lowest + 1]
        if len(falling) < 3:
            raise RuntimeError(
                "FastaiLRFinder got unexpected curve shape, the curve should be somehow U-shaped, "
                "please decrease start_lr or increase end_lr to resolve this issue."
            )
        slopes = [(falling[i + 1] - falling[i - 1]) / 2 for i in range(1, len(falling) - 1)]
        steepest = min(range(len(slopes)), key=slopes.__getitem__) + 1
        return self._history["lr"][steepest]

    def apply_suggested_lr(self, optimizer: Optimizer) -> None:
        """Set ``optimizer``'s lr (per parameter group) to :meth:`lr_suggestion`."""
        suggestion = self.lr_suggestion()
        lrs = list(suggestion) if isinstance(suggestion, Sequence) else [suggestion]
        if len(lrs) != len(optimizer.param_groups):
            raise RuntimeError(
                "The number of parameter groups does not match between given optimizer and the one used for "
                f"estimating the learning rate: {len(lrs)} vs {len(optimizer.param_groups)}."
            )
        for group, lr in zip(optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr

    def plot(
        self,
        skip_start: int = 10,
        skip_end: int = 5,
        log_lr: bool = True,
        display_suggestion: bool = True,
        ax: Any | None = None,
        **kwargs: Any,
    ) -> Any:
        """Draw loss against lr and return the matplotlib axes (``kwargs`` go to ``pyplot.subplots``).

        ``skip_start`` and ``skip_end`` leave out that many points at each end of the curve.
        """
        try:
            import matplotlib.pyplot as pyplot
        except ImportError as error:
            raise ModuleNotFoundError(
                "This method requires matplotlib to be installed. Please install it with: pip install matplotlib"
            ) from error
        if not self._history:
            raise RuntimeError("learning rate finder didn't run yet so results can't be plotted")
        if skip_start < 0:
            raise ValueError("skip_start cannot be negative")
        if skip_end < 0:
            raise ValueError("skip_end cannot be negative")
        created = ax is None
        if ax is None:
            _, ax = pyplot.subplots(**kwargs)
        lrs, losses = self._history["lr"], self._history["loss"]
        if display_suggestion:
            self._plot_suggestion(ax, skip_start)
        stop = len(lrs) - skip_end
        lrs, losses = lrs[skip_start:stop], losses[skip_start:stop]
        columns = [list(c) for c in zip(*lrs, strict=True)] if lrs and isinstance(lrs[0], list) else [lrs]
        for index, column in enumerate(columns):
            ax.plot(column, losses, label=f"param_group {index}" if len(columns) > 1 else None)
        if log_lr:
            ax.set_xscale("log")
        if lrs:
            ax.set_xlim([min(column[0] for column in columns), max(column[-1] for column in columns)])
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        if len(columns) > 1 or display_suggestion:
            ax.legend()
        if created:
            pyplot.show()
        return ax

    def _plot_suggestion(self, ax: Any, skip_start: int) -> None:
        suggestion = self.lr_suggestion()
        index = self._history["lr"].index(suggestion)
        if skip_start >= index:
            warnings.warn(
                "skip_start is larger than the suggested LR found and it will not be visible on the plot. "
                "Please, make the value smaller.",
                UserWarning,
                stacklevel=3,
            )
        suggested = suggestion if isinstance(suggestion, list) else [suggestion]
        for group, lr in enumerate(suggested):
            label = "suggested lr" if len(suggested) == 1 else f"suggested lr for param_groups {group}"
            ax.scatter(lr, self._history["loss"][index], s=75, marker="o", zorder=3, label=label)
