"""FastaiLRFinder: the range test's lr and loss pairs, early stop, restore, suggestion, plot, and errors."""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine import create_supervised_trainer
from cadence.handlers import FastaiLRFinder


def setup(groups: int = 1) -> tuple[nn.Module, torch.optim.Optimizer, Engine[Any], list[Any]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    params = [{"params": m.parameters()} for m in model] if groups == 2 else [{"params": model.parameters()}]
    optimizer = torch.optim.SGD(params, lr=1e-4)
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss())
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(30)]
    return model, optimizer, trainer, data


@pytest.mark.parametrize("step_mode", ["exp", "linear"])
def test_lr_grows_and_each_loss_is_paired_with_the_lr_it_used(step_mode: str) -> None:
    model, optimizer, trainer, data = setup()
    used: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: used.append(optimizer.param_groups[0]["lr"]))
    finder = FastaiLRFinder()
    with (
        pytest.warns(UserWarning, match="without loss diverging"),
        finder.attach(
            trainer, {"model": model, "optimizer": optimizer}, start_lr=0.01, end_lr=0.1, step_mode=step_mode
        ) as finding,
    ):
        finding.run(data)
    lrs = finder.get_results()["lr"]
    assert lrs == used
    assert len(lrs) == len(finder.get_results()["loss"]) == 30
    assert all(a < b for a, b in itertools.pairwise(lrs))
    if step_mode == "linear":  # reaches end_lr at iteration num_iter + 1, as Ignite's
        assert (lrs[0], lrs[-1]) == pytest.approx((0.01, 0.01 + 0.09 * 29 / 30))
    else:  # reaches end_lr at iteration num_iter
        assert (lrs[0], lrs[-1]) == pytest.approx((0.01 * 10 ** (1 / 30), 0.1))


def test_restores_model_optimizer_and_trainer() -> None:
    model, optimizer, trainer, data = setup()
    weights = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    with FastaiLRFinder().attach(trainer, {"model": model, "optimizer": optimizer}, end_lr=100.0) as finding:
        finding.run(data)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert optimizer.state_dict() == optimizer_state
    trainer.run(data, max_epochs=2)  # the finder left no handler and no position behind
    assert trainer.state.epoch == 2
    assert optimizer.param_groups[0]["lr"] == 1e-4


def test_divergence_stops_early_and_num_iter_limits_or_extends_the_run() -> None:
    model, optimizer, trainer, data = setup()
    finder = FastaiLRFinder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diverging run does not warn
        with finder.attach(trainer, {"model": model, "optimizer": optimizer}, end_lr=1e4, diverge_th=2) as finding:
            finding.run(data)
    assert len(finder.get_results()["loss"]) < 30
    with (
        pytest.warns(UserWarning, match="without loss diverging"),
        finder.attach(trainer, {"model": model, "optimizer": optimizer}, num_iter=10, diverge_th=math.inf) as finding,
    ):
        assert finding.run(data).iteration == 11  # Ignite's rule: stops once the iteration exceeds num_iter
    with (
        pytest.warns(UserWarning),
        finder.attach(trainer, {"model": model, "optimizer": optimizer}, num_iter=45, diverge_th=math.inf) as finding,
    ):
        assert finding.run(data).iteration == 45


def test_suggestion_plot_and_apply_with_two_groups() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    model, optimizer, trainer, data = setup(groups=2)
    finder = FastaiLRFinder()
    with finder.attach(trainer, {"model": model, "optimizer": optimizer}, end_lr=[10.0, 20.0]) as finding:
        finding.run(data * 3)
    suggestion = finder.lr_suggestion()
    assert isinstance(suggestion, list) and len(suggestion) == 2
    ax = finder.plot(skip_start=0, skip_end=0)
    assert (ax.get_xscale(), ax.get_xlabel(), ax.get_ylabel()) == ("log", "Learning rate", "Loss")
    finder.apply_suggested_lr(optimizer)
    assert [g["lr"] for g in optimizer.param_groups] == suggestion
    with pytest.raises(RuntimeError, match="number of parameter groups does not match"):
        finder.apply_suggested_lr(torch.optim.SGD(model.parameters(), lr=0.1))


def test_errors_before_a_run_and_bad_arguments() -> None:
    model, optimizer, trainer, _ = setup()
    finder = FastaiLRFinder()
    with pytest.raises(RuntimeError, match="didn't run yet"):
        finder.lr_suggestion()
    to_save = {"model": model, "optimizer": optimizer}
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"to_save": 3}, TypeError, "mapping"),
        ({"to_save": {"model": 2, "optimizer": optimizer}}, TypeError, "state_dict"),
        ({"to_save": {"model": model}}, ValueError, "'optimizer' key"),
        ({"to_save": {"optimizer": model}}, TypeError, "torch optimizer"),
        ({"smooth_f": 1.0}, ValueError, "smooth_f"),
        ({"diverge_th": 0.5}, ValueError, "diverge_th"),
        ({"num_iter": 2.0}, TypeError, "num_iter should be an integer"),
        ({"num_iter": 0}, ValueError, "num_iter should be positive"),
        ({"step_mode": "cos"}, ValueError, "step_mode"),
        ({"start_lr": 1}, TypeError, "start_lr should be a float"),
        ({"end_lr": [1.0, 2.0]}, ValueError, "Number of values of end_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, ValueError, "start_lr must be less than end_lr"),
    ]
    for kwargs, error, match in bad:
        arguments = {"to_save": to_save, **kwargs}
        with pytest.raises(error, match=match), finder.attach(trainer, **arguments):
            pass
    with (
        pytest.raises(TypeError, match="output_transform"),
        finder.attach(trainer, to_save, output_transform=lambda output: "loss") as finding,
    ):
        finding.run([(torch.randn(2, 4), torch.randn(2, 1))], max_epochs=1)
    assert not trainer.has_event_handler(finder._run)
