"""ParamGroupScheduler, ConcatScheduler over it, BatchSizeScheduler, plotting, NumPy integers, optimizer wrappers."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from cadence import Engine, Events
from cadence.handlers import (
    BatchSizeScheduler,
    ConcatScheduler,
    CosineAnnealingScheduler,
    LinearCyclicalScheduler,
    ParamGroupScheduler,
    PiecewiseLinear,
)


def two_group_optimizer() -> torch.optim.Optimizer:
    params = [{"params": [torch.zeros(1, requires_grad=True)]}, {"params": [torch.zeros(1, requires_grad=True)]}]
    return torch.optim.SGD(params, lr=0.1)


def group_schedulers(optimizer: torch.optim.Optimizer) -> list[Any]:
    return [
        LinearCyclicalScheduler(optimizer, "lr", 1.0, 0.0, 4, param_group_index=0),
        CosineAnnealingScheduler(optimizer, "lr", 0.1, 0.0, 4, param_group_index=1),
    ]


def test_param_group_scheduler_drives_each_group_and_records_history() -> None:
    optimizer = two_group_optimizer()
    scheduler = ParamGroupScheduler(group_schedulers(optimizer), names=["head", "body"], save_history=True)
    used: list[list[float]] = []
    trainer: Engine[None] = Engine(lambda e, b: used.append([g["lr"] for g in optimizer.param_groups]))
    scheduler.attach(trainer)
    trainer.run(range(5))
    assert [u[0] for u in used] == pytest.approx([1.0, 0.5, 0.0, 0.5, 1.0])
    assert [u[1] for u in used] == pytest.approx([0.1, 0.08536, 0.05, 0.01464, 0.1], abs=1e-5)
    assert trainer.state.param_history["head"] == [[u[0]] for u in used]
    rows = ParamGroupScheduler.simulate_values(5, group_schedulers(two_group_optimizer()))
    assert [r[1] for r in rows] == pytest.approx([u[0] for u in used])


def test_param_group_scheduler_resume_and_errors() -> None:
    optimizer = two_group_optimizer()
    scheduler = ParamGroupScheduler(group_schedulers(optimizer), names=["a", "b"])
    for _ in range(3):
        scheduler(None)
    state = scheduler.state_dict()
    resumed = ParamGroupScheduler(group_schedulers(optimizer), names=["a", "b"])
    resumed.load_state_dict(state)
    assert resumed.get_param() == scheduler.get_param()
    with pytest.raises(ValueError, match="does not correspond to required one"):
        resumed.load_state_dict({"schedulers": [("a", state["schedulers"][0][1]), ("c", {})]})
    with pytest.raises(ValueError, match="contains 1 state_dicts of param group schedulers, but 2 needed"):
        resumed.load_state_dict({"schedulers": [("a", {})]})
    with pytest.raises(TypeError, match="should be a dictionary"):
        resumed.load_state_dict(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list/tuple"):
        ParamGroupScheduler(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parameter schedulers"):
        ParamGroupScheduler([1, 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2 should be equal 1"):
        ParamGroupScheduler(group_schedulers(optimizer), names=["a"])


def test_concat_starts_with_a_param_group_scheduler() -> None:
    optimizer = two_group_optimizer()
    warm = ParamGroupScheduler(
        [PiecewiseLinear(optimizer, "lr", [(0, 0.0), (2, 1.0)], param_group_index=i) for i in range(2)]
    )
    decay = PiecewiseLinear(optimizer, "lr", [(0, 1.0), (2, 0.0)])
    rows = ConcatScheduler.simulate_values(5, [warm, decay], [3])
    assert rows == [[0, 0.0, 0.0], [1, 0.5, 0.5], [2, 1.0, 1.0], [3, 1.0, 1.0], [4, 0.5, 0.5]]


def epoch_lrs(make: Any, stop_at: int | None, how: str) -> list[list[float]]:
    """The learning rates of each iteration of 5 epochs of 3, with the scheduler on EPOCH_STARTED; with ``stop_at``,
    the run stops once after that iteration (by ``how``) and is run again."""
    optimizer = two_group_optimizer()
    scheduler = make(optimizer)
    lrs: list[list[float]] = []
    failed: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if how == "exception" and engine.state.iteration == stop_at and not failed:
            failed.append(1)
            raise RuntimeError("stopped")  # the continued run feeds this batch again
        lrs.append([group["lr"] for group in optimizer.param_groups])

    trainer: Engine[None] = Engine(step)
    trainer.add_event_handler(Events.EPOCH_STARTED, scheduler)
    if how == "terminate" and stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.terminate())
    for _ in range(1 if stop_at is None else 2):
        with contextlib.suppress(RuntimeError):
            trainer.run([0, 1, 2], max_epochs=5)
    return lrs


SCHEDULERS = {
    "group": lambda optimizer: ParamGroupScheduler(group_schedulers(optimizer)),
    "concat": lambda optimizer: ConcatScheduler(
        [
            PiecewiseLinear(optimizer, "lr", [(0, 1.0), (2, 0.5)]),
            CosineAnnealingScheduler(optimizer, "lr", 0.5, 0.0, 4),
        ],
        durations=[2],
    ),
    "concat of a group": lambda optimizer: ConcatScheduler(
        [ParamGroupScheduler(group_schedulers(optimizer)), PiecewiseLinear(optimizer, "lr", [(0, 1.0), (2, 0.5)])],
        durations=[3],
    ),
}


@pytest.mark.parametrize("how", ["terminate", "exception"])
@pytest.mark.parametrize("stop_at", [1, 5, 9])
@pytest.mark.parametrize("kind", sorted(SCHEDULERS))
def test_combined_schedulers_step_once_per_epoch_when_a_run_continues_mid_epoch(
    kind: str, stop_at: int, how: str
) -> None:
    expected = epoch_lrs(SCHEDULERS[kind], None, how)
    assert len(expected) == 15
    assert epoch_lrs(SCHEDULERS[kind], stop_at, how) == expected


def test_numpy_integers_and_optimizer_wrappers() -> None:
    class Wrapper:  # e.g. DeepSpeed's FP16 optimizer: param_groups only
        def __init__(self, optimizer: torch.optim.Optimizer) -> None:
            self.param_groups = optimizer.param_groups

    optimizer = two_group_optimizer()
    wrapped = Wrapper(optimizer)
    scheduler = LinearCyclicalScheduler(wrapped, "lr", 1.0, 0.0, cycle_size=np.int64(4))
    concat = ConcatScheduler([scheduler, PiecewiseLinear(wrapped, "lr", [(np.int64(0), 0.3)])], [np.int64(2)])
    assert concat.optimizer is wrapped
    scheduler(None)
    scheduler(None)
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.5]
    with pytest.raises(TypeError, match="param_groups"):
        PiecewiseLinear(object(), "lr", [(0, 1.0)])  # type: ignore[arg-type]


def test_plot_values_and_missing_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    lines = CosineAnnealingScheduler.plot_values(4, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=4)
    assert len(lines[0].get_xdata()) == 4
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.pyplot", None)
    with pytest.raises(ModuleNotFoundError, match="pip install matplotlib"):
        CosineAnnealingScheduler.plot_values(4, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=4)


def loader() -> DataLoader[Any]:
    return DataLoader(TensorDataset(torch.arange(64)), batch_size=4)


def test_batch_size_scheduler_changes_the_batches() -> None:
    data = loader()
    scheduler = BatchSizeScheduler(data, lambda epoch: 4 * 2**epoch, save_history=True)
    sizes: list[int] = []
    trainer: Engine[Any] = Engine(lambda e, batch: sizes.append(len(batch[0])))
    scheduler.attach(trainer)
    trainer.run(data, max_epochs=3, epoch_length=2)
    assert sizes == [4, 4, 8, 8, 16, 16]
    assert trainer.state.param_history["batch_size"] == [4, 8, 16]
    resumed = BatchSizeScheduler(data, lambda epoch: 4 * 2**epoch)
    resumed.load_state_dict(scheduler.state_dict())
    assert resumed.get_param() == 32
    assert BatchSizeScheduler.simulate_values(2, scheduler_fn=lambda e: e + 1) == [[0, 1], [1, 2]]


def test_batch_size_scheduler_without_a_past_step_starts_its_schedule_at_a_continued_epoch() -> None:
    data = loader()
    sizes: list[int] = []
    trainer: Engine[Any] = Engine(lambda e, batch: sizes.append(len(batch[0])))
    handle = BatchSizeScheduler(data, lambda epoch: 4 * 2**epoch).attach(trainer)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda e: e.terminate())
    trainer.run(data, max_epochs=3, epoch_length=2)  # stops in epoch 2, whose batches have 8 items
    handle.remove()
    fresh = BatchSizeScheduler(data, lambda epoch: 2 + epoch, save_history=True)  # its state was not loaded
    fresh.attach(trainer)
    trainer.run(data, max_epochs=3, epoch_length=2)
    # Nothing to apply again: the continued epoch gets the fresh schedule's first value, as a fresh scheduler does.
    assert sizes == [4, 4, 8, 2, 3, 3]
    assert trainer.state.param_history["batch_size"] == [2, 3]


def test_batch_size_scheduler_errors() -> None:
    with pytest.raises(TypeError, match="DataLoader"):
        BatchSizeScheduler([1, 2], lambda e: 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="BatchSampler"):
        BatchSizeScheduler(DataLoader(TensorDataset(torch.arange(4)), batch_size=None), lambda e: 2)
    with pytest.raises(TypeError, match="callable"):
        BatchSizeScheduler(loader(), 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integer"):
        BatchSizeScheduler(loader(), lambda e: 0)(None)
    with pytest.raises(ValueError, match="positive integer"):
        BatchSizeScheduler(loader(), lambda e: 2.5)(None)  # type: ignore[arg-type,return-value]


def test_handles_are_removable() -> None:
    scheduler = BatchSizeScheduler(loader(), lambda e: 8)
    trainer: Engine[None] = Engine(lambda e, b: None)
    scheduler.attach(trainer, Events.EPOCH_STARTED).remove()
    trainer.run([0])
    assert scheduler.event_index == 0
