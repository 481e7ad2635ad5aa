"""Early stopping: end training when a score has not improved for ``patience`` calls."""

from __future__ import annotations

import enum
import logging
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from cadence.distributed import broadcast
from cadence.engine import Engine

__all__ = ["EarlyStopping", "ScoreMode"]


class ScoreMode(enum.Enum):
    """Whether a higher (``MAX``) or a lower (``MIN``) score is better.

    Example:
        >>> ScoreMode("min")
        <ScoreMode.MIN: 'min'>
    """

    MAX = "max"
    MIN = "min"


class EarlyStopping:
    """Call ``trainer.terminate()`` once ``score_function(engine)`` has not improved for ``patience`` calls.

    Attach it to the engine that computes the score (often an evaluator, on ``COMPLETED``). A score
    improves when it beats the best so far by more than ``min_delta``. With ``cumulative_delta=True``
    the best score is only updated on an improvement, so small gains that never exceed ``min_delta``
    add up against it.

    Args:
        patience: calls without improvement to wait before stopping.
        score_function: ``fn(engine) -> number``.
        trainer: the engine to stop.
        min_delta: the least change that counts as an improvement.
        cumulative_delta: compare with the best score of the last improvement (see above).
        mode: ``ScoreMode.MAX`` (default, or ``"max"``) or ``ScoreMode.MIN`` (``"min"``, e.g. for a loss).

    Example:
        >>> from cadence import Events
        >>> trainer = Engine(lambda engine, batch: None)
        >>> scores = iter([0.5, 0.6, 0.6, 0.55, 0.7])
        >>> stopper = EarlyStopping(patience=2, score_function=lambda e: next(scores), trainer=trainer)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, stopper)
        >>> trainer.run([0], max_epochs=5).epoch
        4
    """

    mode: ScoreMode
    patience: int
    score_function: Callable[[Engine[Any]], float]
    trainer: Engine[Any]
    min_delta: float
    cumulative_delta: bool
    counter: int
    logger: logging.Logger

    def __init__(
        self,
        patience: int,
        score_function: Callable[[Engine[Any]], float],
        trainer: Engine[Any],
        min_delta: float = 0.0,
        cumulative_delta: bool = False,
        mode: ScoreMode | str = ScoreMode.MAX,
    ) -> None:
        if not callable(score_function):
            raise TypeError(f"score_function must be callable as fn(engine) -> number, got {score_function!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}.")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or min_delta < 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}.")
        if not isinstance(trainer, Engine):
            raise TypeError(f"trainer must be a cadence Engine, got {type(trainer).__name__}.")
        try:
            self.mode = ScoreMode(mode)
        except ValueError:
            raise ValueError(f"mode must be ScoreMode.MAX/'max' or ScoreMode.MIN/'min', got {mode!r}.") from None
        self.patience = patience
        self.score_function = score_function
        self.trainer = trainer
        self.min_delta = float(min_delta)
        self.cumulative_delta = cumulative_delta
        self.counter = 0
        self.best_score: float | None = None
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine[Any]) -> None:
        """Score the engine now; stop the trainer when patience runs out."""
        raw = self.score_function(engine)
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
            raise ValueError(f"score_function must return a number, got {raw!r} ({type(raw).__name__}).")
        raw = broadcast(float(raw), src=0)  # every rank decides on rank 0's score: all stop together
        score = float(raw) if self.mode is ScoreMode.MAX else -float(raw)  # compare as "higher is better"
        if self.best_score is None or score > self.best_score + self.min_delta:
            self.best_score = score
            self.counter = 0
            return
        if not self.cumulative_delta and score > self.best_score:
            self.best_score = score
        self.counter += 1
        self.logger.debug("EarlyStopping: %d / %d calls without improvement", self.counter, self.patience)
        if self.counter >= self.patience:
            self.logger.info("EarlyStopping: no improvement for %d calls; stopping the trainer.", self.patience)
            self.trainer.terminate()

    @property
    def best(self) -> float | None:
        """The best score seen so far, in the score function's own sign (``None`` before the first call)."""
        if self.best_score is None:
            return None
        return self.best_score if self.mode is ScoreMode.MAX else -self.best_score

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"counter": ..., "best_score": ...}``.

        Example:
            >>> stopper = EarlyStopping(3, lambda e: 0.0, Engine(lambda e, b: None))
            >>> stopper.state_dict()
            {'counter': 0, 'best_score': None}
        """
        return {"counter": self.counter, "best_score": self.best_score}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the counter and best score saved by :meth:`state_dict`.

        Example:
            >>> stopper = EarlyStopping(3, lambda e: 0.0, Engine(lambda e, b: None))
            >>> stopper.load_state_dict({"counter": 2, "best_score": 0.9})
            >>> stopper.counter, stopper.best
            (2, 0.9)
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"counter", "best_score"}:
            raise ValueError(f"EarlyStopping state_dict must have keys 'counter' and 'best_score', got {state_dict!r}.")
        counter, best = state_dict["counter"], state_dict["best_score"]
        if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
            raise ValueError(f"EarlyStopping state_dict: counter must be an integer >= 0, got {counter!r}.")
        if best is not None and (isinstance(best, bool) or not isinstance(best, numbers.Real)):
            raise ValueError(f"EarlyStopping state_dict: best_score must be a number or None, got {best!r}.")
        self.counter = counter
        self.best_score = None if best is None else float(best)
