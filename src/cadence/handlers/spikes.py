"""Undo the training steps that made the loss NaN, infinite or spike, and go on with the next batch.

:class:`SpikeRollback` reads the loss after each iteration. When it is not finite, or a *spike rule*
(:class:`MeanStdSpike`, :class:`MedianSpike` or any ``rule(loss, window) -> bool``) finds it far above the
recent good losses, the model, the optimizer and whatever else it was given are put back to their last good
state (a snapshot kept in memory, or the newest checkpoint), and the run continues with the next batch: the
undone batches are *skipped*. The iteration count keeps going and the data are read as before, so the random
numbers and the data order that exact resume relies on are those of a run without rollbacks.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import math
import numbers
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cadence.distributed import ReduceOp, all_reduce, get_world_size
from cadence.engine import Engine, Events
from cadence.handlers._discovery import step_in_name
from cadence.handlers._snapshots import Snapshot, SnapshotPlace, drop_gradients, live_hyperparameters
from cadence.handlers.checkpointer import Checkpoint

__all__ = [
    "LossSpikeError",
    "MeanStdSpike",
    "MedianSpike",
    "Rollback",
    "RollbackReason",
    "SnapshotPlace",
    "SpikeRollback",
]

# ``rule(loss, window) -> bool``: whether ``loss`` is a spike, given the last good losses (oldest first).
_SpikeRule = Callable[[float, Sequence[float]], bool]


def _check_positive(name: str, value: object, *, integer: bool = False, minimum: float = 0.0) -> None:
    kinds: tuple[type, ...] = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > minimum or not math.isfinite(value):  # type: ignore[operator, arg-type]  # a Real compares and converts
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind} above {minimum:g}, got {value!r}.")


@dataclass(frozen=True)
class MeanStdSpike:
    """A loss is a spike when it exceeds the window's mean by more than ``k`` standard deviations, and by more
    than ``margin`` times the mean's size (so that a flat window, whose deviation is near zero, does not turn
    every small rise into a spike).

    Example:
        >>> rule = MeanStdSpike(k=3.0)
        >>> rule(2.0, [1.0, 1.1, 0.9, 1.0]), rule(1.05, [1.0, 1.1, 0.9, 1.0])
        (True, False)
    """

    k: float = 6.0
    margin: float = 0.1

    def __post_init__(self) -> None:
        _check_positive("MeanStdSpike k", self.k)
        if isinstance(self.margin, bool) or not isinstance(self.margin, numbers.Real) or not self.margin >= 0:
            raise ValueError(f"MeanStdSpike margin must be a number >= 0, got {self.margin!r}.")

    def __call__(self, loss: float, window: Sequence[float]) -> bool:
        mean = math.fsum(window) / len(window)
        deviation = math.sqrt(math.fsum((value - mean) ** 2 for value in window) / len(window))
        return loss > mean + max(self.k * deviation, self.margin * abs(mean))


@dataclass(frozen=True)
class MedianSpike:
    """A loss is a spike when it exceeds ``factor`` times the window's median (``median + (factor - 1) * |median|``,
    which reads the same for a negative loss). The median ignores the odd outlier that made it into the window.

    Example:
        >>> rule = MedianSpike(factor=2.0)
        >>> rule(2.5, [1.0, 1.2, 0.8, 9.0]), rule(1.9, [1.0, 1.2, 0.8, 9.0])
        (True, False)
    """

    factor: float = 3.0

    def __post_init__(self) -> None:
        _check_positive("MedianSpike factor", self.factor, minimum=1.0)

    def __call__(self, loss: float, window: Sequence[float]) -> bool:
        median = statistics.median(window)
        return loss > median + (self.factor - 1.0) * abs(median)


class RollbackReason(enum.Enum):
    """Why :class:`SpikeRollback` undid steps: the loss was NaN or infinite, or a spike.

    Example:
        >>> RollbackReason("spike")
        <RollbackReason.SPIKE: 'spike'>
    """

    NON_FINITE = "non_finite"
    SPIKE = "spike"


@dataclass(frozen=True)
class Rollback:
    """One rollback: at ``iteration`` the loss was ``loss`` (``reason``); the objects were put back to their
    state after iteration ``restored_to`` (``None``: a checkpoint whose name holds no step), which undid the
    batches of iterations ``restored_to + 1`` to ``iteration``.

    Example:
        >>> Rollback(iteration=7, reason=RollbackReason.SPIKE, loss=9.5, restored_to=6).skipped
        range(7, 8)
    """

    iteration: int
    reason: RollbackReason
    loss: float
    restored_to: int | None

    @property
    def skipped(self) -> range:
        """The iterations whose batches this rollback undid (only the offending one when ``restored_to`` is
        unknown)."""
        start = self.iteration if self.restored_to is None else self.restored_to + 1
        return range(start, self.iteration + 1)


class LossSpikeError(RuntimeError):
    """:class:`SpikeRollback` gave up: more rollbacks in a row than its ``patience``, or nothing to roll back to.

    The objects hold the last good state when it is raised (a handler of ``EXCEPTION_RAISED`` may save them).

    Example:
        >>> issubclass(LossSpikeError, RuntimeError)
        True
    """


def _default_loss(output: Any) -> Any:
    return output


def _scalar(value: Any) -> float | torch.Tensor:
    """The loss in ``value``: a number, a one-element tensor, or the ``"loss"`` entry of a mapping."""
    if isinstance(value, Mapping):
        if "loss" not in value:
            raise TypeError(
                f"SpikeRollback found a mapping without a 'loss' entry (keys {sorted(map(str, value))}); pass "
                "output_transform=fn(output) -> loss to say where the loss is."
            )
        value = value["loss"]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.detach()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(
        f"SpikeRollback needs the loss as a number or a one-element tensor, got {type(value).__name__} "
        f"({value!r:.80}); pass output_transform=fn(output) -> loss."
    )


class SpikeRollback:
    """Undo the steps that made the loss NaN, infinite or a spike, skip their batches, and continue the run.

    Call :meth:`attach` on the trainer **before** attaching its :class:`~cadence.handlers.Checkpoint`, so that
    each iteration is judged (and, if bad, undone) before it can be saved. After each iteration the loss,
    ``output_transform(engine.state.output)`` (a number, a one-element tensor, or a mapping's ``"loss"``), is
    checked: a NaN or infinite loss, or one that ``rule`` calls a spike, is *bad*. A bad iteration loads the
    last good state back into every object of ``to_restore`` (optimizers keep their current learning rate and
    other hyperparameters: the iteration count, and so the schedule, goes on), drops their gradients, logs a
    warning, records a :class:`Rollback` in :attr:`rollbacks` and counts it in ``engine.state.metrics[name]``.
    The run then goes on with the next batch.

    **What is skipped**: the batches of every iteration since the restored state was taken, the offending one
    included (``Rollback.skipped``). With the in-memory snapshot taken after every good iteration (the default,
    ``snapshot_every=1``) that is the offending batch alone; ``snapshot_every=k`` takes the snapshot only at good
    iterations that are multiples of ``k`` (cheaper, and up to ``k`` batches undone); ``restore_from=`` a
    checkpoint undoes everything since that checkpoint (no memory, a read from storage per rollback). With
    gradient accumulation the earlier batches of the offending batch's accumulation window are skipped too:
    their gradients are summed with its own and are dropped with them. Batches are never re-read nor
    replayed, so the data order and the random numbers are those of a run without rollbacks.

    The loss is read on the host at every iteration (one device synchronisation on a GPU, which any check of
    the loss needs). In a distributed run the loss is averaged over the ranks first (one ``all_reduce`` of one
    number per iteration; none with ``average_across_ranks=False``, for a loss already the same on every rank),
    so that every rank makes the same decision and keeps the same window.

    Args:
        to_restore: the objects to put back, by name (``{"model": model, "optimizer": optimizer}``); each has
            ``state_dict()`` and ``load_state_dict()``. Not the trainer: its iteration count goes on.
        output_transform: ``fn(engine.state.output) -> loss``.
        rule: the spike rule, or ``None`` to act on NaN and infinite losses only.
        window: how many of the last good losses the rule sees.
        warmup: how many good losses to see before the rule is applied (default: ``window``).
        snapshot_every: take the in-memory snapshot at good iterations that are multiples of this.
        place: where the snapshot lives (:class:`SnapshotPlace`): beside the states (default) or on the CPU.
        restore_from: a :class:`~cadence.handlers.Checkpoint` (its ``last_checkpoint``) or a checkpoint folder
            (the newest checkpoint): restore from there instead of keeping a snapshot in memory. The checkpoints
            must hold every name of ``to_restore``.
        patience: rollbacks in a row that are tolerated; one more restores the last good state and raises
            :class:`LossSpikeError`.
        average_across_ranks: average the loss over the ranks of a distributed run before judging it.

    **Cost**: nothing when not attached. Attached, per iteration: reading the loss, the rule over the window
    (``O(window)`` Python arithmetic) and, at each snapshot, one copy of every tensor of ``to_restore``'s states
    (the model's weights and buffers and the optimizer's state: with Adam, three times the weights) into buffers
    allocated once, on the device (``SnapshotPlace.SAME_DEVICE``: that much device memory) or on the CPU.

    **Exact resume**: save the handler with the rest (``to_save={"spikes": handler, ...}``). Its state holds the
    window, the rollbacks and, only when the objects have moved on since the snapshot, the snapshot itself (on
    the CPU); checkpoints taken at multiples of ``snapshot_every`` never need it. A run killed after a
    rollback and resumed makes the same decisions and ends with the same weights as one that never stopped.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> model = torch.nn.Linear(1, 1, bias=False)
        >>> _ = torch.nn.init.ones_(model.weight)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> def step(engine, batch):
        ...     optimizer.zero_grad()
        ...     loss = model(torch.tensor([[batch]])).sum()
        ...     loss.backward()
        ...     optimizer.step()
        ...     return loss.item()
        >>> trainer = Engine(step)
        >>> spikes = SpikeRollback({"model": model, "optimizer": optimizer}, rule=None)
        >>> spikes.attach(trainer)
        >>> _ = trainer.run([1.0, float("nan"), 1.0])
        >>> round(model.weight.item(), 4), trainer.state.metrics["rollbacks"], spikes.rollbacks[0].skipped
        (0.8, 1, range(2, 3))
    """

    def __init__(
        self,
        to_restore: Mapping[str, Any],
        *,
        output_transform: Callable[[Any], Any] = _default_loss,
        rule: _SpikeRule | None = MeanStdSpike(),  # noqa: B008  # a frozen dataclass: immutable
        window: int = 50,
        warmup: int | None = None,
        snapshot_every: int = 1,
        place: SnapshotPlace = SnapshotPlace.SAME_DEVICE,
        restore_from: Checkpoint | str | Path | None = None,
        patience: int = 5,
        average_across_ranks: bool = True,
    ) -> None:
        _check_to_restore(to_restore)
        if not callable(output_transform):
            raise TypeError(f"output_transform must be callable, got {output_transform!r}.")
        if rule is not None and not callable(rule):
            raise TypeError(f"rule must be callable as rule(loss, window) -> bool, or None; got {rule!r}.")
        _check_positive("window", window, integer=True)
        warmup = window if warmup is None else warmup
        _check_positive("warmup", warmup, integer=True)
        if warmup > window:
            raise ValueError(f"warmup ({warmup}) cannot exceed window ({window}): the window never holds more losses.")
        _check_positive("snapshot_every", snapshot_every, integer=True)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0 (rollbacks in a row tolerated), got {patience!r}.")
        if not isinstance(place, SnapshotPlace):
            raise TypeError(f"place must be a SnapshotPlace (SAME_DEVICE or CPU), got {place!r}.")
        if restore_from is not None and not isinstance(restore_from, Checkpoint | str | Path):
            raise TypeError(f"restore_from must be a Checkpoint, a folder or None, got {type(restore_from).__name__}.")
        self.to_restore = dict(to_restore)
        self.output_transform = output_transform
        self.rule = rule
        self.warmup = int(warmup)
        self.snapshot_every = int(snapshot_every)
        self.restore_from = restore_from
        self.patience = int(patience)
        self.average_across_ranks = bool(average_across_ranks)
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")
        self._window: collections.deque[float] = collections.deque(maxlen=int(window))
        self._snapshot = Snapshot(self.to_restore, place)
        self._in_sync = False  # whether the objects still hold the snapshot's states
        self._consecutive = 0
        self._world = 1
        #: Every rollback of the run so far, oldest first.
        self.rollbacks: list[Rollback] = []

    # ------------------------------------------------------------------ wiring
    def attach(self, engine: Engine[Any], name: str = "rollbacks") -> None:
        """Judge every iteration of ``engine``; ``engine.state.metrics[name]`` counts the rollbacks.

        Attach it before the trainer's checkpoint handler (for a ``restore_from`` checkpoint this is checked).
        """
        if not isinstance(engine, Engine):
            raise TypeError(f"attach needs an Engine, got {type(engine).__name__}.")
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}.")
        if isinstance(self.restore_from, Checkpoint) and engine.has_event_handler(self.restore_from):
            raise ValueError(
                "SpikeRollback must be attached before the Checkpoint it restores from: otherwise a checkpoint may "
                "hold the very step that a rollback undoes. Attach SpikeRollback first, then the Checkpoint."
            )
        engine.add_event_handler(Events.STARTED, self._started, name)
        engine.add_event_handler(Events.EPOCH_STARTED, self._take_pending_snapshot)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._judge, name)

    def _started(self, engine: Engine[Any], name: str) -> None:
        if engine.state.iteration == 0:  # a fresh run: nothing of an earlier one applies
            self._window.clear()
            self._snapshot.states, self._snapshot.iteration = None, 0
            self._consecutive = 0
            self.rollbacks = []
        self._world = get_world_size() if self.average_across_ranks else 1
        engine.state.metrics[name] = len(self.rollbacks)

    def _take_pending_snapshot(self, engine: Engine[Any]) -> None:
        # At the start of a run (or of a resumed one, once every object is loaded): the state to roll back to.
        if self.restore_from is None and self._snapshot.states is None:
            self._snapshot.capture(self._snapshot.iteration)  # 0 on a fresh run; a resumed one keeps its saved label
            self._in_sync = True

    # ------------------------------------------------------------------ the check
    def _judge(self, engine: Engine[Any], name: str) -> None:
        loss = self._loss(engine.state.output)
        reason = self._verdict(loss)
        iteration = engine.state.iteration
        if reason is None:
            self._consecutive = 0
            self._window.append(loss)
            if self.restore_from is None and (iteration % self.snapshot_every == 0 or self._snapshot.states is None):
                self._snapshot.capture(iteration)
                self._in_sync = True
            else:
                self._in_sync = False
            return
        self._consecutive += 1
        rollback = Rollback(iteration, reason, loss, self._roll_back())
        self.rollbacks.append(rollback)
        engine.state.metrics[name] = len(self.rollbacks)
        self.logger.warning(
            "SpikeRollback: the loss at iteration %d is %s (%s); restored the state after iteration %s, skipping "
            "iterations %s (%d in a row).",
            iteration, loss, reason.value, rollback.restored_to, list(rollback.skipped), self._consecutive,
        )  # fmt: skip
        if self._consecutive > self.patience:
            raise LossSpikeError(
                f"SpikeRollback: {self._consecutive} rollbacks in a row (patience={self.patience}), the last at "
                f"iteration {iteration} (loss {loss}, {reason.value}); the objects hold the state after iteration "
                f"{rollback.restored_to}. The run does not recover by skipping batches: lower the learning rate, "
                "check the data, or raise patience."
            )

    def _loss(self, output: Any) -> float:
        value = _scalar(self.output_transform(output))
        if self._world == 1:
            return float(value)
        total = value.to(torch.float64, copy=True).reshape(()) if isinstance(value, torch.Tensor) else float(value)
        return float(all_reduce(total, ReduceOp.SUM)) / self._world  # a NaN on any rank makes the mean NaN

    def _verdict(self, loss: float) -> RollbackReason | None:
        if not math.isfinite(loss):
            return RollbackReason.NON_FINITE
        if self.rule is not None and len(self._window) >= self.warmup and self.rule(loss, self._window):
            return RollbackReason.SPIKE
        return None

    def _roll_back(self) -> int | None:
        """Put the objects back to the last good state; return the iteration it was taken after."""
        if self.restore_from is not None:
            return self._load_checkpoint()
        if self._snapshot.states is None:
            raise LossSpikeError(
                "SpikeRollback has no snapshot to roll back to: it was attached after the run's epoch started. "
                "Attach it before run()."
            )
        self._snapshot.restore()
        self._in_sync = True
        return self._snapshot.iteration

    def _load_checkpoint(self) -> int | None:
        source = self.restore_from
        if isinstance(source, Checkpoint):
            source.wait()  # a checkpoint still written in the background
            location = source.last_checkpoint
            if location is not None:
                with live_hyperparameters(self.to_restore):
                    Checkpoint.load_objects(self.to_restore, location)
        else:
            assert source is not None
            with live_hyperparameters(self.to_restore):
                location = Checkpoint.resume(self.to_restore, source)
        if location is None:
            raise LossSpikeError(
                f"SpikeRollback has no checkpoint to roll back to yet in {source!r}: the first bad loss came before "
                "the first checkpoint. Save one earlier (also at Events.ITERATION_COMPLETED(once=1)), or keep a "
                "snapshot in memory (restore_from=None)."
            )
        drop_gradients(self.to_restore)
        return step_in_name(Path(str(location)).name)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The window, the rollbacks, the streak of rollbacks in a row, the snapshot's iteration and, only when
        the objects have moved on since it was taken, the snapshot (on the CPU)."""
        in_memory = self.restore_from is None and self._snapshot.states is not None
        return {
            "window": list(self._window),
            "consecutive": self._consecutive,
            "rollbacks": [{**dataclasses.asdict(r), "reason": r.reason.value} for r in self.rollbacks],
            "snapshot_iteration": self._snapshot.iteration,
            "snapshot": self._snapshot.export() if in_memory and not self._in_sync else None,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; everything is checked before anything changes. Without a saved
        snapshot, the objects' states when the run starts (loaded from the same checkpoint) are the snapshot."""
        keys = {"window", "consecutive", "rollbacks", "snapshot_iteration", "snapshot"}
        if not isinstance(state_dict, Mapping) or set(state_dict) != keys:
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict).__name__
            raise ValueError(f"SpikeRollback.load_state_dict expects the keys {sorted(keys)}, got {got}.")
        window = _floats(state_dict["window"], self._window.maxlen)
        rollbacks = [_rollback(entry) for entry in _sequence("rollbacks", state_dict["rollbacks"])]
        consecutive, iteration = state_dict["consecutive"], state_dict["snapshot_iteration"]
        for key, value in (("consecutive", consecutive), ("snapshot_iteration", iteration)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"SpikeRollback.load_state_dict: {key} must be an integer >= 0, got {value!r}.")
        snapshot = state_dict["snapshot"]
        if snapshot is not None and (not isinstance(snapshot, Mapping) or set(snapshot) != set(self.to_restore)):
            held = sorted(snapshot) if isinstance(snapshot, Mapping) else type(snapshot).__name__
            raise ValueError(
                f"SpikeRollback.load_state_dict: the snapshot holds {held}, but this handler restores "
                f"{sorted(self.to_restore)}; build it with the same to_restore names."
            )
        self._window.clear()
        self._window.extend(window)
        self.rollbacks = rollbacks
        self._consecutive = consecutive
        self._snapshot.states, self._snapshot.iteration = None, iteration
        self._in_sync = snapshot is None
        if snapshot is not None:
            self._snapshot.adopt(snapshot, iteration)


def _check_to_restore(to_restore: object) -> None:
    if not isinstance(to_restore, Mapping) or not to_restore:
        raise TypeError(
            f"to_restore must be a non-empty mapping of names to objects, e.g. {{'model': model, 'optimizer': "
            f"optimizer}}; got {to_restore!r:.80}."
        )
    for name, obj in to_restore.items():
        if not isinstance(name, str):
            raise TypeError(f"to_restore's names must be strings, got {name!r}.")
        if isinstance(obj, Engine):
            raise ValueError(
                f"to_restore[{name!r}] is an Engine: the trainer is not rolled back (its iteration count and data "
                "position go on, so that the skipped batches are not read again). Leave it out."
            )
        if not (callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))):
            raise TypeError(
                f"to_restore[{name!r}] ({type(obj).__name__}) has no state_dict()/load_state_dict(): it cannot be "
                "put back."
            )


def _sequence(name: str, value: object) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"SpikeRollback.load_state_dict: {name} must be a list, got {type(value).__name__}.")
    return value


def _floats(value: object, limit: int | None) -> list[float]:
    items = _sequence("window", value)
    if not all(isinstance(item, numbers.Real) and not isinstance(item, bool) for item in items):
        raise ValueError(f"SpikeRollback.load_state_dict: window must hold numbers, got {items!r:.80}.")
    if limit is not None and len(items) > limit:
        raise ValueError(
            f"SpikeRollback.load_state_dict: the saved window holds {len(items)} losses, this handler's window is "
            f"{limit}; build it with the same window."
        )
    return [float(item) for item in items]


def _rollback(entry: object) -> Rollback:
    fields = {"iteration", "reason", "loss", "restored_to"}
    if not isinstance(entry, Mapping) or set(entry) != fields:
        raise ValueError(f"SpikeRollback.load_state_dict: each rollback has the keys {sorted(fields)}, got {entry!r}.")
    try:
        reason = RollbackReason(entry["reason"])
    except ValueError:
        raise ValueError(f"SpikeRollback.load_state_dict: unknown rollback reason {entry['reason']!r}.") from None
    restored_to = entry["restored_to"]
    if restored_to is not None and (isinstance(restored_to, bool) or not isinstance(restored_to, int)):
        raise ValueError(f"SpikeRollback.load_state_dict: restored_to must be an integer or None, got {restored_to!r}.")
    return Rollback(int(entry["iteration"]), reason, float(entry["loss"]), restored_to)
