"""Early stopping: end training when a score has not improved for ``patience`` calls."""

from __future__ import annotations

import enum
import logging
import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from cadence.distributed import broadcast
from cadence.engine import CallableEventWithFilter, Engine, Events

__all__ = ["EarlyStopping", "ScoreMode"]


class ScoreMode(str, enum.Enum):
    """Whether a higher (``MAX``) or a lower (``MIN``) score is better; compares equal to ``"max"`` / ``"min"``.

    Example:
        >>> ScoreMode("min"), ScoreMode.MIN == "min"
        (<ScoreMode.MIN: 'min'>, True)
    """

    MAX = "max"
    MIN = "min"


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"EarlyStopping's {old!r} is deprecated (as in Ignite 0.5.5); use {new!r} instead.",
        DeprecationWarning,
        stacklevel=3,
    )


def _threshold_mode(value: object) -> str:
    value = getattr(value, "value", value)  # also an Enum such as cadence.handlers.ThresholdMode
    if value not in ("abs", "rel"):
        raise ValueError(f"Argument threshold_mode should be either 'abs' or 'rel', got {value!r}.")
    return str(value)


class EarlyStopping:
    """Call ``trainer.terminate()`` once ``score_function(engine)`` has not improved for ``patience`` calls.

    Attach it to the engine that computes the score (often an evaluator, on ``COMPLETED``), or use
    :meth:`attach`. A score improves when it beats the best so far by more than ``threshold``: an
    absolute margin (``threshold_mode="abs"``) or a fraction of the best score (``"rel"``). With
    ``cumulative=True`` the best score is only updated on an improvement, so small gains that never
    exceed the threshold add up against it. In a distributed run every rank decides on rank 0's score.

    Args:
        patience: calls without improvement to wait before stopping.
        score_function: ``fn(engine) -> number``.
        trainer: the engine to stop.
        threshold: the least change that counts as an improvement (``>= 0``).
        cumulative: compare with the best score of the last improvement (see above).
        threshold_mode: ``"abs"`` or ``"rel"``.
        mode: ``"max"`` (default, :attr:`ScoreMode.MAX`) or ``"min"`` (e.g. for a loss).
        min_delta, min_delta_mode, cumulative_delta: Ignite's deprecated names of ``threshold``,
            ``threshold_mode`` and ``cumulative``; they win over the new names and warn.

    Example:
        >>> trainer = Engine(lambda engine, batch: None)
        >>> scores = iter([0.5, 0.6, 0.6, 0.55, 0.7])
        >>> stopper = EarlyStopping(patience=2, score_function=lambda e: next(scores), trainer=trainer)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, stopper)
        >>> trainer.run([0], max_epochs=5).epoch
        4
    """

    mode: ScoreMode
    threshold_mode: str
    patience: int
    score_function: Callable[[Engine[Any]], float]
    trainer: Engine[Any]
    threshold: float
    cumulative: bool
    counter: int
    best_score: float | None
    logger: logging.Logger

    def __init__(
        self,
        patience: int,
        score_function: Callable[[Engine[Any]], float],
        trainer: Engine[Any],
        threshold: float = 0.0,
        cumulative: bool = False,
        threshold_mode: str = "abs",
        mode: ScoreMode | str = ScoreMode.MAX,
        min_delta: float | None = None,
        min_delta_mode: str | None = None,
        cumulative_delta: bool | None = None,
    ) -> None:
        if not callable(score_function):
            raise TypeError(
                f"Argument score_function should be a function fn(engine) -> number, got {score_function!r}."
            )
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"Argument patience should be positive integer, got {patience!r}.")
        if not isinstance(trainer, Engine):
            raise TypeError(f"Argument trainer should be an instance of Engine, got {type(trainer).__name__}.")
        if min_delta is not None:
            _deprecated("min_delta", "threshold")
            threshold = min_delta
        if min_delta_mode is not None:
            _deprecated("min_delta_mode", "threshold_mode")
            threshold_mode = min_delta_mode
        if cumulative_delta is not None:
            _deprecated("cumulative_delta", "cumulative")
            cumulative = cumulative_delta
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or threshold < 0:
            raise ValueError(f"Argument threshold should not be a negative number, got {threshold!r}.")
        self.threshold_mode = _threshold_mode(threshold_mode)
        try:
            self.mode = ScoreMode(getattr(mode, "value", mode))
        except ValueError:
            raise ValueError(f"Argument mode should be either 'min' or 'max', got {mode!r}.") from None
        self.patience = patience
        self.score_function = score_function
        self.trainer = trainer
        self.threshold = float(threshold)
        self.cumulative = bool(cumulative)
        self.counter = 0
        self.best_score = None
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine[Any]) -> None:
        """Score the engine now; stop the trainer when patience runs out."""
        raw = self.score_function(engine)
        if isinstance(raw, torch.Tensor) and raw.numel() == 1:
            raw = raw.item()
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
            raise ValueError(f"score_function must return a number, got {raw!r} ({type(raw).__name__}).")
        score = float(broadcast(float(raw), src=0))  # every rank decides on rank 0's score: all stop together
        if self.best_score is None:
            self.best_score = score
            return
        if self._improves(score):
            self.best_score = score
            self.counter = 0
            return
        if not self.cumulative:  # the best follows small gains, so only a jump over the threshold resets
            self.best_score = max(score, self.best_score) if self.mode is ScoreMode.MAX else min(score, self.best_score)
        self.counter += 1
        self.logger.debug("EarlyStopping: %d / %d calls without improvement", self.counter, self.patience)
        if self.counter >= self.patience:
            self.logger.info("EarlyStopping: no improvement for %d calls; stopping the trainer.", self.patience)
            self.trainer.terminate()

    def _improves(self, score: float) -> bool:
        assert self.best_score is not None
        margin = self.threshold if self.mode is ScoreMode.MAX else -self.threshold
        bound = self.best_score + margin if self.threshold_mode == "abs" else self.best_score * (1.0 + margin)
        return score > bound if self.mode is ScoreMode.MAX else score < bound

    def reset(self) -> None:
        """Forget the best score and the count, e.g. at the start of each new training run."""
        self.counter = 0
        self.best_score = None

    def attach(
        self,
        engine: Engine[Any],
        event: CallableEventWithFilter = Events.COMPLETED,
        reset_engine: Engine[Any] | None = None,
        reset_event: CallableEventWithFilter = Events.STARTED,
    ) -> None:
        """Score ``engine`` on ``event``, and :meth:`reset` on ``reset_event`` of ``reset_engine`` (default ``engine``).

        Example:
            >>> trainer, evaluator = Engine(lambda e, b: None), Engine(lambda e, b: None)
            >>> stopper = EarlyStopping(3, lambda e: 0.0, trainer)
            >>> stopper.attach(evaluator, reset_engine=trainer)
            >>> trainer.has_event_handler(stopper.reset, Events.STARTED)
            True
        """
        engine.add_event_handler(event, self)
        (reset_engine or engine).add_event_handler(reset_event, self.reset)

    @property
    def best(self) -> float | None:
        """The best score seen so far (``None`` before the first call)."""
        return self.best_score

    @property
    def min_delta(self) -> float:
        """Deprecated name of ``threshold``."""
        _deprecated("min_delta", "threshold")
        return self.threshold

    @min_delta.setter
    def min_delta(self, value: float) -> None:
        _deprecated("min_delta", "threshold")
        self.threshold = value

    @property
    def min_delta_mode(self) -> str:
        """Deprecated name of ``threshold_mode``."""
        _deprecated("min_delta_mode", "threshold_mode")
        return self.threshold_mode

    @min_delta_mode.setter
    def min_delta_mode(self, value: str) -> None:
        _deprecated("min_delta_mode", "threshold_mode")
        self.threshold_mode = _threshold_mode(value)

    @property
    def cumulative_delta(self) -> bool:
        """Deprecated name of ``cumulative``."""
        _deprecated("cumulative_delta", "cumulative")
        return self.cumulative

    @cumulative_delta.setter
    def cumulative_delta(self, value: bool) -> None:
        _deprecated("cumulative_delta", "cumulative")
        self.cumulative = value

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"counter": ..., "best_score": ..., "threshold_mode": ...}``.

        Example:
            >>> stopper = EarlyStopping(3, lambda e: 0.0, Engine(lambda e, b: None))
            >>> stopper.state_dict()
            {'counter': 0, 'best_score': None, 'threshold_mode': 'abs'}
        """
        return {"counter": self.counter, "best_score": self.best_score, "threshold_mode": self.threshold_mode}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the counter, best score (and threshold mode, when saved) from :meth:`state_dict`.

        Example:
            >>> stopper = EarlyStopping(3, lambda e: 0.0, Engine(lambda e, b: None))
            >>> stopper.load_state_dict({"counter": 2, "best_score": 0.9})
            >>> stopper.counter, stopper.best
            (2, 0.9)
        """
        if not isinstance(state_dict, Mapping) or not {"counter", "best_score"} <= set(state_dict) <= {
            "counter",
            "best_score",
            "threshold_mode",
        }:
            raise ValueError(
                "EarlyStopping state_dict must have keys 'counter' and 'best_score' (and optionally "
                f"'threshold_mode'), got {state_dict!r}."
            )
        counter, best = state_dict["counter"], state_dict["best_score"]
        if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
            raise ValueError(f"EarlyStopping state_dict: counter must be an integer >= 0, got {counter!r}.")
        if best is not None and (isinstance(best, bool) or not isinstance(best, numbers.Real)):
            raise ValueError(f"EarlyStopping state_dict: best_score must be a number or None, got {best!r}.")
        threshold_mode = _threshold_mode(state_dict.get("threshold_mode", self.threshold_mode))
        self.counter = counter
        self.best_score = None if best is None else float(best)
        self.threshold_mode = threshold_mode
