import copy
from collections import namedtuple
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine.supervised import (
    AmpMode,
    convert_tensor,
    create_supervised_evaluator,
    create_supervised_trainer,
    prepare_batch,
    supervised_evaluation_step,
    supervised_training_step,
    supervised_training_step_amp,
)


def _data(batches: int = 4, batch_size: int = 8, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch_size, 5, generator=generator), torch.randn(batch_size, 1, generator=generator))
        for _ in range(batches)
    ]


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))


def test_trainer_decreases_loss() -> None:
    model = _model()
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    losses: list[float] = []
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: losses.append(e.state.output))
    trainer.run(_data(), max_epochs=20)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("steps", [2, 4])
def test_gradient_accumulation_matches_large_batch(steps: int) -> None:
    data = _data(batches=steps, batch_size=6)
    big_x = torch.cat([x for x, _ in data])
    big_y = torch.cat([y for _, y in data])
    accumulated, reference = _model(), _model()
    opt_a = torch.optim.SGD(accumulated.parameters(), lr=0.5, momentum=0.9)
    opt_r = torch.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
    trainer = create_supervised_trainer(accumulated, opt_a, nn.MSELoss(), gradient_accumulation_steps=steps)
    big_trainer = create_supervised_trainer(reference, opt_r, nn.MSELoss())
    trainer.run(data, max_epochs=3)
    big_trainer.run([(big_x, big_y)], max_epochs=3)
    for a, r in zip(accumulated.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_steps_only_every_n_iterations() -> None:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps: list[int] = []
    optimizer.register_step_post_hook(lambda *_: steps.append(trainer.state.iteration))
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss(), gradient_accumulation_steps=3)
    trainer.run(_data(batches=6), max_epochs=1)
    assert steps == [3, 6]


def test_clip_grad_norm_limits_the_update() -> None:
    model = nn.Linear(5, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    trainer = create_supervised_trainer(
        model, torch.optim.SGD(model.parameters(), lr=1.0), nn.MSELoss(), clip_grad_norm=0.01
    )
    x, y = torch.ones(4, 5), torch.full((4, 1), 100.0)
    trainer.run([(x, y)])
    change = torch.cat([model.weight.flatten(), model.bias]).norm()
    assert change.item() == pytest.approx(0.01, rel=1e-4)


def test_trainer_output_transform_and_model_transform() -> None:
    model = _model()
    trainer = create_supervised_trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.MSELoss(),
        model_fn=lambda m, x: {"out": m(x)},
        model_transform=lambda output: output["out"],
        output_transform=lambda x, y, y_pred, loss: (y_pred.shape, loss.item()),
    )
    shape, loss = trainer.run(_data(batches=1)).output
    assert shape == torch.Size([8, 1])
    assert isinstance(loss, float)


def test_amp_bfloat16_on_cpu_trains() -> None:
    model = _model()
    seen: list[torch.dtype] = []
    trainer = create_supervised_trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.05),
        nn.MSELoss(),
        amp_mode="amp",
        output_transform=lambda x, y, y_pred, loss: (seen.append(y_pred.dtype), loss.item())[1],
    )
    assert not hasattr(trainer.state, "scaler")  # bf16 needs no scaler
    before = copy.deepcopy(model.state_dict())
    trainer.run(_data(), max_epochs=2)
    assert seen[0] == torch.bfloat16
    assert not torch.equal(before["0.weight"], model.state_dict()["0.weight"])
    assert model[0].weight.dtype == torch.float32


def test_amp_with_explicit_scaler_on_cpu() -> None:
    model = _model()
    trainer = create_supervised_trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.05), nn.MSELoss(), amp_mode=AmpMode.AMP, scaler=True
    )
    trainer.run(_data(), max_epochs=1)
    assert isinstance(trainer.state.scaler, torch.amp.GradScaler)


def test_amp_step_builder_runs() -> None:
    model = _model()
    step = supervised_training_step_amp(model, torch.optim.SGD(model.parameters(), lr=0.05), nn.MSELoss())
    assert isinstance(Engine(step).run(_data()).output, float)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"amp_mode": "apex"}, ModuleNotFoundError, "does not support NVIDIA Apex"),
        ({"amp_mode": "fp8"}, ValueError, "amp_mode must be None or 'amp'"),
        ({"scaler": True}, ValueError, "scaler argument is True, but amp_mode is None"),
        ({"scaler": "yes"}, TypeError, "scaler must be"),
        ({"gradient_accumulation_steps": 0}, ValueError, "Gradient_accumulation_steps must be strictly positive"),
        ({"clip_grad_norm": -1.0}, ValueError, "clip_grad_norm"),
    ],
)
def test_trainer_bad_options(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    model = _model()
    with pytest.raises(error, match=match):
        create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), **kwargs)


def test_trainer_bad_model_and_optimizer() -> None:
    model = _model()
    with pytest.raises(TypeError, match="model must be"):
        create_supervised_trainer(lambda x: x, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer must be"):
        create_supervised_trainer(model, object(), nn.MSELoss())  # type: ignore[arg-type]


def test_evaluator_runs_in_eval_and_inference_mode_and_trainer_returns_to_train() -> None:
    model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    observed: list[tuple[str, bool, bool]] = []

    def spy_model_fn(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        observed.append(("call", m.training, torch.is_inference_mode_enabled()))
        return m(x)

    trainer = create_supervised_trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), model_fn=spy_model_fn
    )
    evaluator = create_supervised_evaluator(model, model_fn=spy_model_fn)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run(_data(batches=1)))
    model.eval()  # the trainer must switch it to train mode itself
    trainer.run(_data(batches=2), max_epochs=2)
    # per epoch: two training calls (train mode, grad enabled), then one evaluation call (eval, inference)
    assert observed == [("call", True, False)] * 2 + [("call", False, True)] + [("call", True, False)] * 2 + [
        ("call", False, True)
    ]


def test_evaluator_restores_modes_when_run_mid_epoch() -> None:
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    model[1].eval()  # a frozen batch norm must stay frozen after evaluation
    training_flags: list[bool] = []
    trainer = create_supervised_trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.MSELoss(),
        model_fn=lambda m, x: (training_flags.append(m.training), m(x))[1],
    )
    evaluator = create_supervised_evaluator(model)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda: evaluator.run(_data(batches=1)))
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda: model[1].eval())
    trainer.run(_data(batches=3), max_epochs=1)
    assert training_flags == [True, True, True]
    assert model[1].training is False


def test_evaluator_outputs_and_metrics_attach() -> None:
    attached: list[tuple[Engine[Any], str]] = []

    class CountingMetric:
        def attach(self, engine: Engine[Any], name: str) -> None:
            attached.append((engine, name))
            engine.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.__setitem__(name, e.state.iteration))

    model = _model()
    evaluator = create_supervised_evaluator(model, metrics={"count": CountingMetric()})
    state = evaluator.run(_data(batches=3))
    assert attached == [(evaluator, "count")]
    assert state.metrics == {"count": 3}
    y_pred, y = state.output
    assert y_pred.shape == y.shape == (8, 1)


def test_evaluator_rejects_non_metrics_and_bad_amp() -> None:
    with pytest.raises(TypeError, match="'acc' has no attach"):
        create_supervised_evaluator(_model(), metrics={"acc": 0.5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="amp_mode"):
        create_supervised_evaluator(_model(), amp_mode="fp8")


def test_evaluator_amp_bfloat16() -> None:
    evaluator = create_supervised_evaluator(_model(), amp_mode="amp", device="cpu")
    y_pred, _ = evaluator.run(_data(batches=1)).output
    assert y_pred.dtype == torch.bfloat16


def test_step_builders_with_custom_prepare_batch() -> None:
    model = _model()
    step = supervised_training_step(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.MSELoss(),
        prepare_batch=lambda batch, device, non_blocking: (batch["x"], batch["y"]),
    )
    batches = [{"x": x, "y": y} for x, y in _data(batches=2)]
    assert isinstance(Engine(step).run(batches).output, float)
    eval_step = supervised_evaluation_step(model, prepare_batch=lambda batch, device, non_blocking: (batch["x"], None))
    y_pred, y = Engine(eval_step).run(batches).output
    assert y is None and y_pred.shape == (8, 1)


def test_convert_tensor_and_prepare_batch() -> None:
    Pair = namedtuple("Pair", ["a", "b"])
    converted = convert_tensor([Pair(torch.ones(1), "n"), ("s", torch.zeros(1))], device="cpu")
    assert isinstance(converted[0], Pair) and converted[1][0] == "s"
    with pytest.raises(ValueError, match=r"\(x, y\) pair"):
        prepare_batch(torch.ones(3, 2))


def test_deterministic_trainer_repeats_its_run_exactly() -> None:
    from cadence import DeterministicEngine

    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)]

    def train(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        trainer = create_supervised_trainer(model, optimizer, nn.MSELoss(), deterministic=True, seed=seed)
        assert isinstance(trainer, DeterministicEngine) and trainer.state.seed == seed
        torch.manual_seed(seed + 100)  # the trainer reseeds at run start: this must not matter
        trainer.run(data, max_epochs=2)
        return [p.detach().clone() for p in model.parameters()]

    first, again, other = train(1), train(1), train(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
