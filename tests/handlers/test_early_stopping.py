from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cadence import Engine, Events
from cadence.engine.supervised import create_supervised_evaluator, create_supervised_trainer
from cadence.handlers.early_stopping import EarlyStopping, ScoreMode


def _run_with_scores(scores: list[float], max_epochs: int | None = None, **kwargs: Any) -> int:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    values = iter(scores)
    stopper = EarlyStopping(score_function=lambda engine: next(values), trainer=trainer, **kwargs)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, stopper)
    return trainer.run([0], max_epochs=max_epochs or len(scores)).epoch


@pytest.mark.parametrize(
    ("scores", "kwargs", "stop_epoch"),
    [
        ([1, 2, 3, 4, 5], {"patience": 1}, 5),
        ([5, 4, 3, 2, 1], {"patience": 2}, 3),
        ([1, 2, 2, 2, 9], {"patience": 3}, 5),
        ([1, 2, 2, 2, 9], {"patience": 2}, 4),
        ([1.0, 1.06, 1.12, 1.18, 1.24], {"patience": 3, "threshold": 0.1}, 4),  # best follows each small gain
        ([1.0, 1.06, 1.12, 1.18, 1.24], {"patience": 3, "threshold": 0.1, "cumulative": True}, 5),
        ([10.0, 10.5, 11.2, 11.3, 11.4], {"patience": 2, "threshold": 0.05, "threshold_mode": "rel"}, 5),
        ([10.0, 10.4, 10.8, 10.9, 11.0], {"patience": 2, "threshold": 0.05, "threshold_mode": "rel"}, 3),
        ([5, 4, 3, 3, 3], {"patience": 2, "mode": "min"}, 5),
        ([5, 4, 3, 3.5, 3], {"patience": 2, "mode": ScoreMode.MIN}, 5),
        ([5, 4, 4, 4, 3], {"patience": 2, "mode": ScoreMode.MIN}, 4),
    ],
)
def test_stops_at_the_right_epoch(scores: list[float], kwargs: dict[str, Any], stop_epoch: int) -> None:
    assert _run_with_scores(scores, **kwargs) == stop_epoch


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.integers(0, 5), min_size=1, max_size=12),
    patience=st.integers(1, 4),
)
def test_stop_epoch_is_first_run_of_patience_non_improvements(scores: list[int], patience: int) -> None:
    best, waited, expected = None, 0, len(scores)
    for epoch, score in enumerate(scores, start=1):
        if best is None or score > best:
            best, waited = score, 0
        else:
            waited += 1
            if waited == patience:
                expected = epoch
                break
    assert _run_with_scores([float(s) for s in scores], patience=patience) == expected


def test_real_training_stops_when_validation_loss_stalls() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    data = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(2)]
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.MSELoss())
    evaluator = create_supervised_evaluator(model)
    losses: list[float] = []

    @evaluator.on(Events.COMPLETED)
    def compute_loss(engine: Engine[Any]) -> None:
        y_pred, y = engine.state.output
        engine.state.metrics["loss"] = nn.functional.mse_loss(y_pred, y).item()
        losses.append(engine.state.metrics["loss"])

    evaluator.add_event_handler(
        Events.COMPLETED,
        EarlyStopping(patience=3, score_function=lambda e: e.state.metrics["loss"], trainer=trainer, mode="min"),
    )
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run(data[:1]))
    state = trainer.run(data, max_epochs=20)
    assert state.epoch == 4  # lr=0: the loss never improves after the first epoch
    assert len(set(losses)) == 1


def test_state_dict_resumes_the_count() -> None:
    first = Engine(lambda engine, batch: None)
    stopper = EarlyStopping(patience=3, score_function=lambda engine: 1.0, trainer=first)
    first.add_event_handler(Events.EPOCH_COMPLETED, stopper)
    first.run([0], max_epochs=2)
    assert stopper.state_dict() == {"counter": 1, "best_score": 1.0, "threshold_mode": "abs"}
    second = Engine(lambda engine, batch: None)
    restored = EarlyStopping(patience=3, score_function=lambda engine: 1.0, trainer=second)
    restored.load_state_dict(stopper.state_dict())
    second.add_event_handler(Events.EPOCH_COMPLETED, restored)
    assert second.run([0], max_epochs=10).epoch == 2


def test_min_mode_best_keeps_the_sign() -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    stopper = EarlyStopping(patience=1, score_function=lambda engine: 0.25, trainer=trainer, mode="min")
    stopper(trainer)
    assert stopper.best == 0.25 and stopper.state_dict()["best_score"] == 0.25  # in the score's own sign


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"patience": 0}, ValueError, "patience"),
        ({"patience": 1.5}, ValueError, "patience"),
        ({"threshold": -0.1}, ValueError, "threshold should not be a negative number"),
        ({"threshold_mode": "relative"}, ValueError, "threshold_mode should be either 'abs' or 'rel'"),
        ({"score_function": 3}, TypeError, "score_function should be a function"),
        ({"trainer": object()}, TypeError, "trainer should be an instance of Engine"),
        ({"mode": "maximum"}, ValueError, "mode should be either 'min' or 'max'"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    arguments: dict[str, Any] = {
        "patience": 2,
        "score_function": lambda engine: 0.0,
        "trainer": Engine(lambda e, b: None),
    }
    with pytest.raises(error, match=match):
        EarlyStopping(**{**arguments, **kwargs})


def test_non_number_score_and_bad_state() -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    stopper = EarlyStopping(patience=2, score_function=lambda engine: "good", trainer=trainer)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="must return a number, got 'good'"):
        stopper(trainer)
    with pytest.raises(ValueError, match="keys 'counter' and 'best_score'"):
        stopper.load_state_dict({"counter": 1})
    with pytest.raises(ValueError, match="counter must be"):
        stopper.load_state_dict({"counter": -1, "best_score": None})
    with pytest.raises(ValueError, match="best_score must be"):
        stopper.load_state_dict({"counter": 0, "best_score": "x"})


def test_reset_attach_and_score_tensors() -> None:
    trainer, evaluator = Engine(lambda e, b: None), Engine(lambda e, b: None)
    scores = iter([1.0, 0.5, 0.5, 2.0, 1.0])
    stopper = EarlyStopping(patience=2, score_function=lambda e: torch.tensor(next(scores)), trainer=trainer)
    stopper.attach(evaluator, event=Events.EPOCH_COMPLETED, reset_engine=trainer)
    assert evaluator.has_event_handler(stopper, Events.EPOCH_COMPLETED)
    assert trainer.has_event_handler(stopper.reset, Events.STARTED)
    evaluator.run([0], max_epochs=2)
    assert stopper.counter == 1 and stopper.best == 1.0
    stopper.reset()
    assert stopper.counter == 0 and stopper.best is None


def test_deprecated_names_warn_and_win() -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    with pytest.warns(DeprecationWarning, match="min_delta"):
        stopper = EarlyStopping(2, lambda e: 0.0, trainer, threshold=0.5, min_delta=0.1, min_delta_mode="rel")
    assert stopper.threshold == 0.1 and stopper.threshold_mode == "rel"
    with pytest.warns(DeprecationWarning, match="cumulative_delta"):
        stopper.cumulative_delta = True
    assert stopper.cumulative is True
    with pytest.warns(DeprecationWarning, match="min_delta_mode"):
        assert stopper.min_delta_mode == "rel"
    stopper.load_state_dict({"counter": 1, "best_score": 2.0, "threshold_mode": "abs"})
    assert stopper.threshold_mode == "abs" and stopper.mode == "max"
