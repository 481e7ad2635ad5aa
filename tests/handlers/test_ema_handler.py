"""EMAHandler: the average's values, momentum warm-up, buffers, exact resume, and errors."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers import EMABufferMode, EMAHandler, PiecewiseLinearStateScheduler


def _model(value: float = 1.0) -> nn.Linear:
    model = nn.Linear(2, 1, bias=False)
    nn.init.constant_(model.weight, value)
    return model


def _incrementing_trainer(model: nn.Module) -> Engine[Any]:
    """Each iteration adds 1 to every weight: the average is easy to work out by hand."""

    def step(engine: Engine[Any], batch: Any) -> None:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)

    return Engine(step)


@pytest.mark.parametrize(("every", "expected"), [(1, 4.0625), (2, 3.5)])
def test_average_of_the_weights(every: int, expected: float) -> None:
    model = _model()
    trainer = _incrementing_trainer(model)
    ema = EMAHandler(model, momentum=0.5)
    ema.attach(trainer, "model", event=Events.ITERATION_COMPLETED(every=every))
    trainer.run(range(2), max_epochs=2)
    assert torch.equal(model.weight, torch.full((1, 2), 5.0))
    assert torch.equal(ema.ema_model.weight, torch.full((1, 2), expected))
    assert trainer.state.model == 0.5
    assert not ema.ema_model.weight.requires_grad
    assert not ema.ema_model.training


def test_the_ema_model_is_a_copy() -> None:
    model = _model()
    ema = EMAHandler(model)
    assert ema.model is model and ema.ema_model is not model
    ema.ema_model.weight.data.fill_(3.0)
    assert torch.equal(model.weight, torch.ones(1, 2))


def test_distributed_data_parallel_is_unwrapped() -> None:
    class FakeDDP(nn.parallel.DistributedDataParallel):
        def __init__(self, module: nn.Module) -> None:
            nn.Module.__init__(self)
            self.module = module

    inner = _model()
    ema = EMAHandler(FakeDDP(inner))
    assert ema.model is inner
    assert type(ema.ema_model) is nn.Linear


@pytest.mark.parametrize(("start", "end"), [(0.0, 0.5), (1.0, 0.5), (0.1, 0.9)])
def test_momentum_warmup_is_linear_then_constant(start: float, end: float) -> None:
    model = _model()
    trainer = _incrementing_trainer(model)
    ema = EMAHandler(model, momentum=end, momentum_warmup=start, warmup_iters=5)
    ema.attach(trainer)
    seen: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.ema_momentum))
    trainer.run(range(8))
    step = (end - start) / 4
    assert seen[:5] == pytest.approx([start + i * step for i in range(5)])
    assert seen[5:] == [end] * 3
    assert ema.momentum_scheduler is not None and ema.momentum_scheduler.event_index == 8


def test_warmup_of_one_update_starts_at_the_final_momentum() -> None:
    model = _model()
    trainer = _incrementing_trainer(model)
    EMAHandler(model, momentum=0.3, momentum_warmup=0.9, warmup_iters=1).attach(trainer)
    trainer.run(range(2))
    assert trainer.state.ema_momentum == pytest.approx(0.3)


def test_a_state_scheduler_drives_the_momentum() -> None:
    model = _model()
    trainer = _incrementing_trainer(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        PiecewiseLinearStateScheduler([(0, 0.0), (2, 1.0)], param_name="decay").attach(trainer)
    ema = EMAHandler(model, momentum=0.5)
    ema.attach(trainer, name="decay", warn_if_exists=False)
    trainer.run(range(3))
    # momenta 0.5 then 1.0, 1.0: the average ends on the weights
    assert torch.equal(ema.ema_model.weight, model.weight)


def test_batchnorm_buffers() -> None:
    def run(mode: str) -> tuple[nn.BatchNorm1d, EMAHandler]:
        torch.manual_seed(0)
        model = nn.BatchNorm1d(3)
        ema = EMAHandler(model, momentum=0.5, handle_buffers=mode)
        trainer = Engine(lambda engine, batch: model(torch.randn(8, 3)))
        ema.attach(trainer)
        trainer.run(range(3))
        return model, ema

    model, ema = run("copy")
    assert torch.equal(ema.ema_model.running_mean, model.running_mean)
    assert ema.ema_model.num_batches_tracked.item() == 3
    ema.ema_model.running_mean.fill_(7.0)  # a copy, not the model's own tensor
    assert not torch.equal(model.running_mean, ema.ema_model.running_mean)

    model, ema = run("update")
    assert not torch.equal(ema.ema_model.running_mean, model.running_mean)
    assert ema.ema_model.num_batches_tracked.item() == 3  # integers are copied

    model, ema = run(EMABufferMode.EMA_TRAIN)
    assert ema.ema_model.training
    assert ema.ema_model.num_batches_tracked.item() == 0
    assert torch.equal(ema.ema_model.running_mean, torch.zeros(3))


def test_two_handlers_on_one_trainer_and_the_name_warning() -> None:
    first, second = _model(), _model()
    trainer = _incrementing_trainer(nn.ModuleList([first, second]))
    ema_first, ema_second = EMAHandler(first, momentum=0.5), EMAHandler(second, momentum=0.25)
    ema_first.attach(trainer, "first")
    ema_second.attach(trainer, "second", event=Events.ITERATION_COMPLETED(every=2))
    trainer.run(range(4))
    assert (trainer.state.first, trainer.state.second) == (0.5, 0.25)
    assert ema_first.ema_model.weight[0, 0].item() == pytest.approx(4.0625)
    assert ema_second.ema_model.weight[0, 0].item() == pytest.approx(0.75 * (0.75 + 0.25 * 3) + 0.25 * 5)
    with pytest.warns(UserWarning, match="Attribute 'first' already exists"):
        EMAHandler(_model()).attach(trainer, "first")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EMAHandler(_model()).attach(trainer, "first", warn_if_exists=False)


def _run(stop_at: int | None, state: dict[str, Any] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """Train 6 iterations with a warm-up; stop after ``stop_at`` or resume from ``state``."""
    model = _model()
    ema = EMAHandler(model, momentum=0.1, momentum_warmup=0.9, warmup_iters=4)
    trainer = _incrementing_trainer(model)
    if state is not None:
        model.load_state_dict(state["model"])
        trainer.load_state_dict(state["trainer"])
        ema.load_state_dict(state["ema"])
    ema.attach(trainer, warn_if_exists=False)
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.terminate())
    trainer.run(range(6))
    saved = {"model": model.state_dict(), "trainer": trainer.state_dict(), "ema": ema.state_dict()}
    return ema.ema_model.weight.detach().clone(), saved


def test_resume_is_exact() -> None:
    straight, _ = _run(None)
    _, state = _run(2)
    resumed, _ = _run(None, state)
    assert torch.equal(resumed, straight)


def test_state_dict_round_trip_without_warmup() -> None:
    ema = EMAHandler(_model(2.0))
    state = ema.state_dict()
    assert state["momentum_scheduler"] is None
    other = EMAHandler(_model())
    other.load_state_dict(state)
    assert torch.equal(other.ema_model.weight, torch.full((1, 2), 2.0))


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        ([1, 2], TypeError, "expects a mapping"),
        ({"ema_model": {}}, ValueError, "expects the keys"),
        ({"ema_model": {}, "momentum_scheduler": {"event_index": 1}}, ValueError, "disagree on the momentum warm-up"),
        ({"ema_model": {}, "momentum_scheduler": None}, ValueError, "missing \\['weight'\\]"),
        ({"ema_model": {"weight": torch.ones(3)}, "momentum_scheduler": None}, ValueError, "has shape"),
        ({"ema_model": 3, "momentum_scheduler": None}, TypeError, "must be a state dict"),
    ],
)
def test_load_state_dict_errors(state: Any, error: type[Exception], match: str) -> None:
    ema = EMAHandler(_model(5.0))
    with pytest.raises(error, match=match):
        ema.load_state_dict(state)
    assert torch.equal(ema.ema_model.weight, torch.full((1, 2), 5.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"momentum": 0.0}, ValueError, "Invalid momentum"),
        ({"momentum": 1.0}, ValueError, "Invalid momentum"),
        ({"momentum": "0.1"}, TypeError, "momentum must be a float"),
        ({"momentum_warmup": 0.1}, ValueError, "needs both momentum_warmup and warmup_iters"),
        ({"warmup_iters": 10}, ValueError, "needs both"),
        ({"momentum_warmup": 1.5, "warmup_iters": 10}, ValueError, "Invalid momentum_warmup"),
        ({"momentum_warmup": 0.5, "warmup_iters": 0}, ValueError, "warmup_iters must be a positive integer"),
        ({"momentum_warmup": 0.5, "warmup_iters": 2.5}, ValueError, "warmup_iters must be a positive integer"),
        ({"handle_buffers": "average"}, ValueError, "handle_buffers can only be one of"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        EMAHandler(_model(), **kwargs)


def test_bad_model_and_name() -> None:
    with pytest.raises(ValueError, match=r"model should be an instance of nn\.Module"):
        EMAHandler("model")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be an attribute name"):
        EMAHandler(_model()).attach(Engine(lambda e, b: None), name="ema momentum")
