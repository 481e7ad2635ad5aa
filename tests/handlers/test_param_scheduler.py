"""Parameter schedulers: closed-form values, Ignite side by side, engine runs, resume, and errors."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence import Engine, Events
from cadence.handlers.param_scheduler import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamScheduler,
    PiecewiseLinear,
    ReduceLROnPlateauScheduler,
    create_lr_scheduler_with_warmup,
)
from cadence.handlers.reduce_lr_on_plateau import PlateauMode

ignite_ps = pytest.importorskip("ignite.handlers.param_scheduler")


def make_optimizer(lr: float = 0.1, groups: int = 1) -> torch.optim.Optimizer:
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr * (i + 1)} for i in range(groups)]
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def values(rows: list[list[float]]) -> list[float]:
    return [row[1] for row in rows]


def ignite_values(cls_name: str, num_events: int, **kwargs: Any) -> list[float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return values(getattr(ignite_ps, cls_name).simulate_values(num_events, **kwargs))


def run_and_record(scheduler: Any, optimizer: torch.optim.Optimizer, iterations: int, event: Any = None) -> list[float]:
    """Run a trainer whose step records the lr in use, with the scheduler attached."""
    used: list[float] = []
    param = optimizer.param_groups[0]["params"][0]

    def step(engine: Engine[None], batch: int) -> None:
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        param.sum().backward()
        optimizer.step()

    trainer: Engine[None] = Engine(step)
    trainer.add_event_handler(event or Events.ITERATION_STARTED, scheduler)
    trainer.run(range(iterations))
    return used


# ---------------------------------------------------------------- cyclical schedulers
CYCLICAL_CASES = [
    {"start_value": 1.0, "end_value": 0.0, "cycle_size": 4},
    {"start_value": 0.5, "end_value": 2.0, "cycle_size": 5},
    {"start_value": 1.0, "end_value": 0.0, "cycle_size": 4, "cycle_mult": 2, "start_value_mult": 0.5},
    {"start_value": 1.0, "end_value": 0.2, "cycle_size": 3, "cycle_mult": 1.5, "end_value_mult": 0.5},
]


@pytest.mark.parametrize("kwargs", CYCLICAL_CASES)
def test_linear_cyclical_matches_ignite(kwargs: dict[str, Any]) -> None:
    ours = values(LinearCyclicalScheduler.simulate_values(30, param_name="lr", **kwargs))
    assert ours == pytest.approx(ignite_values("LinearCyclicalScheduler", 30, param_name="lr", **kwargs))


@pytest.mark.parametrize("kwargs", [*CYCLICAL_CASES, {"start_value": 1.0, "end_value": 0.0, "cycle_size": 4}])
@pytest.mark.parametrize("warmup", [0, 2, 3])
def test_cosine_matches_ignite_with_warmup(kwargs: dict[str, Any], warmup: int) -> None:
    full = {**kwargs, "warmup_duration": warmup}
    ours = values(CosineAnnealingScheduler.simulate_values(40, param_name="lr", **full))
    assert ours == pytest.approx(ignite_values("CosineAnnealingScheduler", 40, param_name="lr", **full))


@pytest.mark.parametrize("warmup", [0, 2])
def test_monotonic_linear_matches_ignite(warmup: int) -> None:
    kwargs = {"start_value": 1.0, "end_value": 0.0, "cycle_size": 4, "monotonic": True, "warmup_duration": warmup}
    ours = values(LinearCyclicalScheduler.simulate_values(20, param_name="lr", **kwargs))
    assert ours == pytest.approx(ignite_values("LinearCyclicalScheduler", 20, param_name="lr", **kwargs))


def test_cosine_closed_form() -> None:
    size = 10
    ours = values(
        CosineAnnealingScheduler.simulate_values(25, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=size)
    )
    expected = [0.5 * (1 + math.cos(math.pi * (i % size) / size)) for i in range(25)]
    assert ours == pytest.approx(expected)


def test_linear_closed_form_triangle() -> None:
    ours = values(
        LinearCyclicalScheduler.simulate_values(8, param_name="lr", start_value=0.0, end_value=1.0, cycle_size=4)
    )
    assert ours == [0.0, 0.5, 1.0, 0.5, 0.0, 0.5, 1.0, 0.5]


def test_scheduler_drives_a_real_training_run_and_momentum() -> None:
    optimizer = make_optimizer()
    scheduler = CosineAnnealingScheduler(optimizer, "momentum", 0.9, 0.5, cycle_size=4)
    momenta: list[float] = []
    trainer: Engine[None] = Engine(lambda e, b: momenta.append(optimizer.param_groups[0]["momentum"]))
    scheduler.attach(trainer, Events.ITERATION_STARTED)
    trainer.run(range(4), max_epochs=2)
    assert momenta == pytest.approx([0.9, 0.8414, 0.7, 0.5586] * 2, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"cycle_size": 1}, ValueError),
        ({"cycle_size": 2.5}, ValueError),
        ({"cycle_mult": 0.5}, ValueError),
        ({"warmup_duration": -1}, ValueError),
        ({"start_value": "high"}, TypeError),
    ],
)
def test_cyclical_bad_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    args = {"start_value": 1.0, "end_value": 0.0, "cycle_size": 4, **kwargs}
    with pytest.raises(error):
        CosineAnnealingScheduler(make_optimizer(), "lr", **args)


def test_linear_warmup_needs_monotonic() -> None:
    with pytest.raises(ValueError, match="monotonic=True"):
        LinearCyclicalScheduler(make_optimizer(), "lr", 1.0, 0.0, 4, warmup_duration=2)


# ---------------------------------------------------------------- piecewise linear
@pytest.mark.parametrize(
    "milestones", [[(2, 1.0), (5, 0.0), (8, 0.5)], [(0, 0.0), (10, 1.0)], [(3, 2.0)], [(2, 1.0), (2, 0.5), (5, 0.0)]]
)
def test_piecewise_linear_matches_ignite(milestones: list[tuple[int, float]]) -> None:
    ours = values(PiecewiseLinear.simulate_values(15, param_name="lr", milestones_values=milestones))
    assert ours == pytest.approx(ignite_values("PiecewiseLinear", 15, param_name="lr", milestones_values=milestones))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=6, unique=True).map(sorted),
    st.lists(st.floats(-10, 10), min_size=6, max_size=6),
)
def test_piecewise_linear_is_interpolation(milestones: list[int], raw_values: list[float]) -> None:
    pairs = list(zip(milestones, raw_values, strict=False))
    ours = values(PiecewiseLinear.simulate_values(60, param_name="lr", milestones_values=pairs))
    expected = np.interp(np.arange(60), milestones, raw_values[: len(milestones)])
    assert ours == pytest.approx(expected.tolist(), abs=1e-9)


@pytest.mark.parametrize(
    ("milestones", "error", "match"),
    [
        ([(5, 1.0), (2, 0.0)], ValueError, "increasing integers"),
        ([], ValueError, "at least one value"),
        (None, TypeError, "list or tuple"),
        ([(1.5, 1.0)], TypeError, "should be integer"),
        ([(-1, 1.0)], ValueError, "non-negative"),
        ([(1, 1.0, 2)], ValueError, "pair"),
        ([(1, "a")], TypeError, "real number"),
    ],
)
def test_piecewise_linear_bad_milestones(milestones: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        PiecewiseLinear(make_optimizer(), "lr", milestones)


# ---------------------------------------------------------------- concat and warm-up
def test_concat_matches_ignite_and_leaves_schedulers_untouched() -> None:
    def build(module: Any) -> tuple[Any, Any, Any]:
        optimizer = make_optimizer()
        first = module.LinearCyclicalScheduler(optimizer, "lr", 1.0, 0.0, cycle_size=4)
        second = module.CosineAnnealingScheduler(optimizer, "lr", 0.5, 0.0, cycle_size=4)
        return optimizer, first, second

    optimizer, first, second = build(__import__("cadence.handlers.param_scheduler", fromlist=["x"]))
    ours = values(ConcatScheduler.simulate_values(12, schedulers=[first, second], durations=[3]))
    _, ifirst, isecond = build(ignite_ps)
    theirs = values(ignite_ps.ConcatScheduler.simulate_values(12, schedulers=[ifirst, isecond], durations=[3]))
    assert ours == pytest.approx(theirs)
    assert first.event_index == 0 and second.event_index == 0
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_concat_resume_gives_the_same_values() -> None:
    def build() -> tuple[torch.optim.Optimizer, ConcatScheduler]:
        optimizer = make_optimizer()
        warm = PiecewiseLinear(optimizer, "lr", [(0, 0.0), (3, 1.0)])
        cos = CosineAnnealingScheduler(optimizer, "lr", 1.0, 0.0, cycle_size=5)
        return optimizer, ConcatScheduler([warm, cos], [3])

    optimizer, whole = build()
    expected = [whole(None) or optimizer.param_groups[0]["lr"] for _ in range(12)]
    optimizer, part = build()
    got = [part(None) or optimizer.param_groups[0]["lr"] for _ in range(5)]
    state = part.state_dict()
    optimizer, resumed = build()
    resumed.load_state_dict(state)
    got += [resumed(None) or optimizer.param_groups[0]["lr"] for _ in range(7)]
    assert got == pytest.approx(expected)


def test_concat_bad_arguments() -> None:
    optimizer = make_optimizer()
    cos = CosineAnnealingScheduler(optimizer, "lr", 1.0, 0.0, cycle_size=4)
    other = CosineAnnealingScheduler(make_optimizer(), "lr", 1.0, 0.0, cycle_size=4)
    momentum = CosineAnnealingScheduler(optimizer, "momentum", 1.0, 0.0, cycle_size=4)
    with pytest.raises(ValueError, match="more than one"):
        ConcatScheduler([cos], [])
    with pytest.raises(TypeError, match="should be a sequence"):
        ConcatScheduler(None, [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one length per scheduler"):
        ConcatScheduler([cos, cos], [1, 2])
    with pytest.raises(ValueError, match="positive integers"):
        ConcatScheduler([cos, cos], [0])
    with pytest.raises(ValueError, match="list/tuple of integers"):
        ConcatScheduler([cos, cos], [1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list/tuple"):
        ConcatScheduler([cos, cos], "ab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same optimizer"):
        ConcatScheduler([cos, other], [2])
    with pytest.raises(ValueError, match="same param_name"):
        ConcatScheduler([cos, momentum], [2])
    with pytest.raises(TypeError, match="index 1 of schedulers"):
        ConcatScheduler([cos, "cosine"], [2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="param_names should be list or tuple"):
        ConcatScheduler.simulate_values(3, [cos, cos], [1], param_names="lr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="list or tuple of strings"):
        ConcatScheduler.simulate_values(3, [cos, cos], [1], param_names=[1])  # type: ignore[list-item]


def torch_decay(kind: str) -> Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]:
    factories: dict[str, Callable[[torch.optim.Optimizer], Any]] = {
        "exponential": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.5),
        "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
        "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.1),
        "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6),
    }
    return factories[kind]


@pytest.mark.parametrize("kind", ["exponential", "step", "multistep", "cosine"])
@pytest.mark.parametrize("end", [None, 0.3])
@pytest.mark.parametrize("groups", [1, 2])
def test_warmup_with_torch_scheduler_matches_ignite(kind: str, end: float | None, groups: int) -> None:
    ours: list[Any] = [None] * 12
    theirs: list[Any] = [None] * 12
    create_lr_scheduler_with_warmup(
        torch_decay(kind)(make_optimizer(groups=groups)), 0.0, 4, end, output_simulated_values=ours
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ignite_ps.create_lr_scheduler_with_warmup(
            torch_decay(kind)(make_optimizer(groups=groups)), 0.0, 4, end, output_simulated_values=theirs
        )
    if end is not None and (kind == "exponential" or groups > 1):
        # Ignite runs chainable schedulers one step ahead (see test_lr_scheduler_follows_plain_pytorch), and with
        # several groups re-bases the scheduler on warmup_end_value; cadence starts it from its own first value.
        assert [row[1] for row in ours[:4]] == pytest.approx([row[1] for row in theirs[:4]])
        return
    assert np.asarray(ours) == pytest.approx(np.asarray(theirs))


def test_warmup_with_param_scheduler_matches_ignite() -> None:
    ours: list[Any] = [None] * 12
    theirs: list[Any] = [None] * 12
    optimizer = make_optimizer()
    create_lr_scheduler_with_warmup(
        CosineAnnealingScheduler(optimizer, "lr", 0.1, 0.0, cycle_size=4), 0.0, 4, output_simulated_values=ours
    )
    ignite_optimizer = make_optimizer()
    ignite_ps.create_lr_scheduler_with_warmup(
        ignite_ps.CosineAnnealingScheduler(ignite_optimizer, "lr", 0.1, 0.0, cycle_size=4),
        0.0,
        4,
        output_simulated_values=theirs,
    )
    assert np.asarray(ours) == pytest.approx(np.asarray(theirs))


def test_warmup_then_cosine_in_a_training_run() -> None:
    optimizer = make_optimizer(lr=1.0)
    cos = CosineAnnealingScheduler(optimizer, "lr", 1.0, 0.0, cycle_size=4)
    scheduler = create_lr_scheduler_with_warmup(cos, warmup_start_value=0.0, warmup_duration=3)
    used = run_and_record(scheduler, optimizer, 8)
    assert used == pytest.approx([0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0, 0.8536], abs=1e-4)


def test_warmup_bad_arguments() -> None:
    decay = torch_decay("step")(make_optimizer())
    with pytest.raises(ValueError, match="warmup_duration"):
        create_lr_scheduler_with_warmup(decay, 0.0, 1)
    with pytest.raises(TypeError, match="lr_scheduler"):
        create_lr_scheduler_with_warmup("cosine", 0.0, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list"):
        create_lr_scheduler_with_warmup(decay, 0.0, 3, output_simulated_values=(1, 2))  # type: ignore[arg-type]


# ---------------------------------------------------------------- torch lr schedulers
def plain_pytorch_lrs(kind: str, iterations: int) -> list[float]:
    optimizer = make_optimizer()
    torch_scheduler = torch_decay(kind)(optimizer)
    used = []
    for _ in range(iterations):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        torch_scheduler.step()
    return used


@pytest.mark.filterwarnings(r"ignore:LRScheduler\(use_legacy=True\)")
@pytest.mark.parametrize("kind", ["exponential", "step", "multistep", "cosine"])
@pytest.mark.parametrize("legacy", [False, True])
def test_lr_scheduler_follows_plain_pytorch(kind: str, legacy: bool) -> None:
    optimizer = make_optimizer()
    scheduler = LRScheduler(torch_decay(kind)(optimizer), use_legacy=legacy)
    event = Events.ITERATION_COMPLETED if legacy else Events.ITERATION_STARTED
    assert run_and_record(scheduler, optimizer, 9, event) == pytest.approx(plain_pytorch_lrs(kind, 9))


@pytest.mark.parametrize("kind", ["step", "multistep"])
def test_lr_scheduler_matches_ignite_for_closed_form_schedulers(kind: str) -> None:
    ours = values(LRScheduler.simulate_values(10, torch_decay(kind)(make_optimizer())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = values(ignite_ps.LRScheduler.simulate_values(10, torch_decay(kind)(make_optimizer())))
    assert ours == pytest.approx(theirs)


def test_lr_scheduler_resume_matches_uninterrupted_run() -> None:
    expected = plain_pytorch_lrs("cosine", 10)
    optimizer = make_optimizer()
    scheduler = LRScheduler(torch_decay("cosine")(optimizer))
    got = run_and_record(scheduler, optimizer, 4)
    state = scheduler.state_dict()
    optimizer = make_optimizer()
    resumed = LRScheduler(torch_decay("cosine")(optimizer))
    resumed.load_state_dict(state)
    got += run_and_record(resumed, optimizer, 6)
    assert got == pytest.approx(expected)


def test_lr_scheduler_bad_arguments() -> None:
    optimizer = make_optimizer()
    with pytest.raises(TypeError, match="ReduceLROnPlateauScheduler"):
        LRScheduler(torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LRScheduler"):
        LRScheduler(optimizer)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'lr_scheduler' is absent"):
        LRScheduler(torch_decay("step")(optimizer)).load_state_dict({"event_index": 1})
    with pytest.raises(TypeError, match=r"subclass of torch\.optim\.lr_scheduler\.LRScheduler"):
        LRScheduler.simulate_values(3, None)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="ITERATION_COMPLETED"):
        LRScheduler(torch_decay("step")(optimizer), use_legacy=True)


# ---------------------------------------------------------------- reduce on plateau
@settings(max_examples=30, deadline=None)
@given(
    metrics=st.lists(st.floats(-2, 2).map(lambda v: round(v, 1)), min_size=1, max_size=25),
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
)
def test_reduce_on_plateau_matches_torch(
    metrics: list[float], mode: str, threshold_mode: str, patience: int, cooldown: int
) -> None:
    options = {
        "mode": mode,
        "threshold_mode": threshold_mode,
        "patience": patience,
        "cooldown": cooldown,
        "factor": 0.5,
        "min_lr": 0.01,
        "threshold": 0.05,
    }
    ours = values(ReduceLROnPlateauScheduler.simulate_values(len(metrics), metrics, 1.0, **options))
    optimizer = make_optimizer(lr=1.0)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **options)  # type: ignore[arg-type]
    expected = []
    for value in metrics:
        reference.step(value)
        expected.append(optimizer.param_groups[0]["lr"])
    assert ours == pytest.approx(expected)


def test_reduce_on_plateau_with_an_evaluator() -> None:
    optimizer = make_optimizer(lr=1.0)
    accuracies = iter([0.5, 0.6, 0.6, 0.6, 0.6, 0.6])
    trainer: Engine[None] = Engine(lambda e, b: None)
    evaluator: Engine[None] = Engine(lambda e, b: None)
    evaluator.add_event_handler(
        Events.COMPLETED, lambda e: e.state.metrics.update(accuracy=torch.tensor(next(accuracies)))
    )
    scheduler = ReduceLROnPlateauScheduler(
        optimizer, "accuracy", trainer=trainer, save_history=True, mode=PlateauMode.MAX, patience=1, factor=0.5
    )
    scheduler.attach(evaluator)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    trainer.run([0], max_epochs=6)
    assert [h[0] for h in trainer.state.param_history["lr"]] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    state = scheduler.state_dict()
    assert state == {"event_index": 6, "best": pytest.approx(0.6), "num_bad_epochs": 0, "cooldown_counter": 0}


def test_reduce_on_plateau_steps_on_every_call_also_when_a_run_continues_an_epoch() -> None:
    # It follows metric values, not epochs: on the trainer's EPOCH_STARTED, a continued epoch is one more call.
    optimizer = make_optimizer(lr=1.0)
    trainer: Engine[None] = Engine(lambda e, b: None)
    trainer.add_event_handler(Events.STARTED, lambda e: e.state.metrics.update(loss=1.0))
    scheduler = ReduceLROnPlateauScheduler(optimizer, "loss", patience=0, factor=0.5)
    trainer.add_event_handler(Events.EPOCH_STARTED, scheduler)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
    trainer.run([0, 1, 2], max_epochs=2)
    trainer.run([0, 1, 2], max_epochs=2)
    assert scheduler.event_index == 3
    assert optimizer.param_groups[0]["lr"] == 0.25  # the first loss is the best; two more that are not


def test_reduce_on_plateau_errors() -> None:
    optimizer = make_optimizer()
    evaluator: Engine[None] = Engine(lambda e, b: None)
    ReduceLROnPlateauScheduler(optimizer, "loss").attach(evaluator)
    with pytest.raises(ValueError, match=r"attribute 'metrics' which itself has the metric 'loss'"):
        evaluator.run([0])
    with pytest.raises(ValueError, match="trainer"):
        ReduceLROnPlateauScheduler(optimizer, "loss", save_history=True)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateauScheduler(optimizer, "loss", factor=1.5)
    with pytest.raises(ValueError, match="'lowest'"):
        ReduceLROnPlateauScheduler(optimizer, "loss", mode="lowest")
    with pytest.raises(ValueError, match="min_lr"):
        ReduceLROnPlateauScheduler(optimizer, "loss", min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="min_lr should be a float"):
        ReduceLROnPlateauScheduler(optimizer, "loss", param_group_index=0, min_lr=[0.1])
    with pytest.raises(ValueError, match="one value per event"):
        ReduceLROnPlateauScheduler.simulate_values(3, [1.0], 0.1)


# ---------------------------------------------------------------- shared behaviour
SCHEDULER_FACTORIES: dict[str, Callable[[torch.optim.Optimizer], ParamScheduler]] = {
    "linear": lambda o: LinearCyclicalScheduler(o, "lr", 1.0, 0.0, cycle_size=4, cycle_mult=2),
    "cosine": lambda o: CosineAnnealingScheduler(o, "lr", 1.0, 0.1, 3, warmup_duration=2, start_value_mult=0.9),
    "piecewise": lambda o: PiecewiseLinear(o, "lr", [(0, 0.0), (4, 1.0), (9, 0.1)]),
    "torch": lambda o: LRScheduler(torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)),
    "warmup": lambda o: create_lr_scheduler_with_warmup(torch_decay("step")(o), 0.0, 3),
}


@pytest.mark.parametrize("name", sorted(SCHEDULER_FACTORIES))
@pytest.mark.parametrize("stop_at", [1, 5])
def test_resume_from_state_dict_continues_the_schedule(name: str, stop_at: int) -> None:
    factory = SCHEDULER_FACTORIES[name]
    optimizer = make_optimizer()
    expected = run_and_record(factory(optimizer), optimizer, 14)
    optimizer = make_optimizer()
    first = factory(optimizer)
    got = run_and_record(first, optimizer, stop_at)
    state = first.state_dict()
    optimizer = make_optimizer()
    second = factory(optimizer)
    second.load_state_dict(state)
    got += run_and_record(second, optimizer, 14 - stop_at)
    assert got == pytest.approx(expected)


def test_save_history_and_param_group_index() -> None:
    optimizer = make_optimizer(groups=2)
    scheduler = PiecewiseLinear(optimizer, "lr", [(0, 1.0), (2, 0.0)], save_history=True, param_group_index=1)
    trainer: Engine[None] = Engine(lambda e, b: None)
    scheduler.attach(trainer)
    trainer.run(range(3))
    assert trainer.state.param_history["lr"] == [[1.0], [0.5], [0.0]]
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_scheduler_handle_removes_it() -> None:
    optimizer = make_optimizer()
    scheduler = PiecewiseLinear(optimizer, "lr", [(0, 1.0), (2, 0.0)])
    trainer: Engine[None] = Engine(lambda e, b: None)
    handle = scheduler.attach(trainer, Events.EPOCH_STARTED)
    assert trainer.has_event_handler(scheduler, Events.EPOCH_STARTED)
    handle.remove()
    trainer.run(range(3))
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_base_scheduler_errors() -> None:
    optimizer = make_optimizer()
    with pytest.raises(TypeError, match=r"torch\.optim\.Optimizer"):
        PiecewiseLinear("sgd", "lr", [(0, 1.0)])  # type: ignore[arg-type]
    misnamed = PiecewiseLinear(optimizer, "learning_rate", [(0, 1.0)])
    with pytest.raises(ValueError, match="has no 'learning_rate'"):
        misnamed(None)
    with pytest.raises(ValueError, match="param_group_index"):
        PiecewiseLinear(optimizer, "lr", [(0, 1.0)], param_group_index=3)
    with pytest.raises(TypeError, match="param_name"):
        PiecewiseLinear(optimizer, 3, [(0, 1.0)])  # type: ignore[arg-type]
    scheduler = PiecewiseLinear(optimizer, "lr", [(0, 1.0)])
    with pytest.raises(ValueError, match=r"'event_index' is absent"):
        scheduler.load_state_dict({})
    with pytest.raises(ValueError, match=r"unexpected keys \['milestones'\]"):
        scheduler.load_state_dict({"event_index": 3, "milestones": [0]})
    with pytest.raises(TypeError, match="should be a dictionary"):
        scheduler.load_state_dict([1, 2])  # type: ignore[arg-type]
    concat = ConcatScheduler([scheduler, PiecewiseLinear(optimizer, "lr", [(0, 2.0)])], [1])
    with pytest.raises(ValueError, match="'schedulers' is absent"):
        concat.load_state_dict({"event_index": 1})
    with pytest.raises(ValueError, match="contains 0 state_dicts of concatenated schedulers, but 2 needed"):
        concat.load_state_dict({"event_index": 1, "schedulers": []})
    two_groups = make_optimizer(groups=2)
    with pytest.raises(ValueError, match="size of value is different than optimizer_param_groups"):
        PiecewiseLinear(two_groups, "lr", [(0, 1.0)])._apply([1.0])
