"""Resume cases of issue 12: what a resumed or continued run sees is what a never-stopped run saw."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from cadence.engine import Engine, Events
from cadence.handlers import LRScheduler, PiecewiseLinear
from cadence.handlers.batch_size_scheduler import BatchSizeScheduler
from cadence.metrics import RunningAverage

EPOCH_LENGTH = 4


def _trainer(log: list[Any]) -> tuple[Engine[Any], RunningAverage]:
    trainer: Engine[Any] = Engine(lambda engine, batch: float(batch))
    running = RunningAverage(output_transform=lambda out: out, alpha=0.5)
    running.attach(trainer, "loss")

    @trainer.on(Events.EPOCH_COMPLETED)
    def report(engine: Engine[Any]) -> None:
        log.append((engine.state.epoch, engine.state.metrics["loss"]))

    return trainer, running


def test_resume_from_the_last_iteration_of_an_epoch_publishes_the_metrics_a_running_run_has() -> None:
    data = [1.0, 2.0, 3.0, 4.0]
    expected: list[Any] = []
    _trainer(expected)[0].run(data, max_epochs=2)

    log: list[Any] = []
    trainer, running = _trainer(log)
    saved: dict[str, Any] = {}

    @trainer.on(Events.ITERATION_COMPLETED(once=EPOCH_LENGTH))  # before EPOCH_COMPLETED: the checkpoint's moment
    def snapshot(engine: Engine[Any]) -> None:
        saved.update(trainer=copy.deepcopy(engine.state_dict()), running=copy.deepcopy(running.state_dict()))
        raise KeyboardInterrupt  # killed right after the save

    with pytest.raises(KeyboardInterrupt):
        trainer.run(data, max_epochs=2)

    log = []
    resumed, running = _trainer(log)
    resumed.load_state_dict(saved["trainer"])
    running.load_state_dict(saved["running"])
    resumed.run(data)  # the resumed run fires EPOCH_COMPLETED of epoch 1 first: 'loss' is there
    assert log == expected


def _scheduled_trainer(scheduler_kind: str) -> tuple[Engine[Any], torch.optim.Optimizer, Any]:
    """A trainer whose learning rate a scheduler on EPOCH_STARTED sets."""
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    if scheduler_kind == "torch":
        scheduler: Any = LRScheduler(torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5))
    else:
        scheduler = PiecewiseLinear(optimizer, "lr", [(0, 0.1), (3, 0.025)])
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.EPOCH_STARTED, scheduler)
    return trainer, optimizer, scheduler


def _scheduled_run(stop_at: int | None, scheduler_kind: str) -> tuple[list[float], dict[str, Any]]:
    trainer, optimizer, scheduler = _scheduled_trainer(scheduler_kind)
    lrs: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: lrs.append(optimizer.param_groups[0]["lr"]))
    saved: dict[str, Any] = {}
    if stop_at is not None:

        @trainer.on(Events.ITERATION_COMPLETED(once=stop_at))
        def stop(engine: Engine[Any]) -> None:
            saved.update(
                trainer=engine.state_dict(),
                optimizer=copy.deepcopy(optimizer.state_dict()),
                scheduler=copy.deepcopy(scheduler.state_dict()),
            )
            engine.terminate()

    trainer.run(range(EPOCH_LENGTH), max_epochs=4)
    return lrs, saved


@pytest.mark.parametrize("scheduler_kind", ["torch", "piecewise"])
@pytest.mark.parametrize("stop_at", [5, 6, 8])
def test_a_scheduler_on_epoch_started_steps_once_per_epoch_across_a_resume(stop_at: int, scheduler_kind: str) -> None:
    expected, _ = _scheduled_run(None, scheduler_kind)
    before, saved = _scheduled_run(stop_at, scheduler_kind)
    trainer, optimizer, scheduler = _scheduled_trainer(scheduler_kind)
    after: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: after.append(optimizer.param_groups[0]["lr"]))
    trainer.load_state_dict(saved["trainer"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    trainer.run(range(EPOCH_LENGTH))
    assert before + after == expected


def test_a_continued_run_also_steps_its_schedulers_once_per_epoch() -> None:
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    scheduler = LRScheduler(torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5))
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.EPOCH_STARTED, scheduler)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.terminate())
    lrs: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: lrs.append(optimizer.param_groups[0]["lr"]))
    trainer.run(range(EPOCH_LENGTH), max_epochs=3)
    trainer.run(range(EPOCH_LENGTH), max_epochs=3)
    assert lrs == [1.0] * 4 + [0.5] * 4 + [0.25] * 4


def test_a_batch_size_scheduler_sets_the_resumed_epochs_batch_size_again_without_a_step() -> None:
    dataset = list(range(40))
    loader = torch.utils.data.DataLoader(dataset, batch_size=1)
    scheduler = BatchSizeScheduler(loader, lambda event: 2 + event)
    sizes: list[int] = []
    trainer: Engine[Any] = Engine(lambda engine, batch: sizes.append(len(batch)))
    trainer.add_event_handler(Events.EPOCH_STARTED, scheduler)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=4), lambda e: e.terminate())
    trainer.run(loader, max_epochs=3, epoch_length=3)
    trainer.run(loader, max_epochs=3, epoch_length=3)
    assert sizes == [2, 2, 2, 3, 3, 3, 4, 4, 4]


def _batch_size_run(folder: Any, *, stop_at: int | None, resume: bool) -> tuple[list[int], torch.Tensor]:
    """A run whose batch size doubles every epoch, checkpointed every iteration; all objects built afresh, as in
    a new process (the loader starts with its initial batch size)."""
    from cadence.handlers import Checkpoint, DiskSaver

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(torch.randn(24, 3), batch_size=2)
    sizes: list[int] = []

    def step(engine: Engine[Any], batch: torch.Tensor) -> None:
        sizes.append(len(batch))
        optimizer.zero_grad()
        model(batch).pow(2).mean().backward()
        optimizer.step()

    trainer: Engine[Any] = Engine(step)
    scheduler = BatchSizeScheduler(loader, lambda event: 2 * 2**event)
    scheduler.attach(trainer)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer, "scheduler": scheduler}
    checkpoint = Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=1)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    if resume:
        assert Checkpoint.resume(to_save, folder) is not None
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.terminate())
    trainer.run(loader, max_epochs=3)
    return sizes, model.weight.detach().clone()


@pytest.mark.parametrize("stop_at", [5, 12, 15, 24, 30])
def test_a_batch_size_scheduler_run_resumes_from_its_checkpoint_with_a_loader_built_afresh(
    tmp_path: Any, stop_at: int
) -> None:
    # The loader of a new process has its initial batch size: the checkpoint's data length (that of the
    # scheduled size) must not refuse it, and the run must end as the uninterrupted one.
    expected_sizes, expected = _batch_size_run(tmp_path / "whole", stop_at=None, resume=False)
    first, _ = _batch_size_run(tmp_path / "cut", stop_at=stop_at, resume=False)
    rest, weight = _batch_size_run(tmp_path / "cut", stop_at=None, resume=True)
    assert first + rest == expected_sizes
    assert torch.equal(weight, expected)


@pytest.mark.parametrize("how", ["terminate_from_iteration_started", "ctrl_c_before_the_step", "exception"])
def test_an_iteration_whose_step_did_not_return_runs_again_on_continue(how: str) -> None:
    steps: list[int] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if batch == 5 and how != "terminate_from_iteration_started" and 5 not in failed:
            failed.add(5)
            raise KeyboardInterrupt if how == "ctrl_c_before_the_step" else RuntimeError("boom")
        steps.append(batch)

    failed: set[int] = set()
    trainer: Engine[Any] = Engine(step)
    if how == "terminate_from_iteration_started":

        @trainer.on(Events.ITERATION_STARTED)  # as Ignite's cifar10 example's --stop_iteration
        def stop(engine: Engine[Any]) -> None:
            if engine.state.iteration == 6 and not failed:
                failed.add(6)
                engine.terminate()

        trainer.run(range(8), max_epochs=2)
    else:
        with pytest.raises((KeyboardInterrupt, RuntimeError)):
            trainer.run(range(8), max_epochs=2)
    assert trainer.state.iteration == 5 and steps == [0, 1, 2, 3, 4]
    trainer.run(range(8), max_epochs=2)
    assert steps == list(range(8)) * 2 and trainer.state.iteration == 16


def test_a_checkpoint_taken_on_exception_resumes_at_the_failed_batch() -> None:
    saved: list[dict[str, Any]] = []

    def step(engine: Engine[Any], batch: int) -> int:
        if batch == 3:
            raise RuntimeError("diverged")
        return batch

    trainer: Engine[Any] = Engine(step)
    counted: list[int] = []
    trainer.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: counted.append(e.state.iteration))
    trainer.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: saved.append(e.state_dict()))
    trainer.run(range(6))
    seen: list[int] = []
    resumed: Engine[Any] = Engine(lambda engine, batch: seen.append(batch))
    resumed.load_state_dict(saved[0])
    resumed.run(range(6))
    assert counted == [4]  # as Ignite: the handlers see the failed iteration counted
    assert saved[0]["iteration"] == 3 and seen == [3, 4, 5]  # the saved position is the last completed one
    assert trainer.state.iteration == 3  # after the handlers, the state too


@pytest.mark.parametrize("epoch_length", [4, 6])
def test_a_checkpoint_file_saved_on_exception_is_named_as_ignite_names_it_and_resumes_the_failed_batch(
    tmp_path: Any, epoch_length: int
) -> None:
    """MONAI names its final checkpoint after the iteration at EXCEPTION_RAISED; no batch is lost or repeated."""
    from cadence.handlers import Checkpoint

    def step(engine: Engine[Any], batch: int) -> int:
        if engine.state.iteration == 5 and not failed:
            failed.append(batch)
            raise RuntimeError("diverged")
        return batch

    failed: list[int] = []
    trainer: Engine[Any] = Engine(step)
    checkpoint = Checkpoint({"trainer": trainer}, str(tmp_path))
    trainer.add_event_handler(Events.EXCEPTION_RAISED, checkpoint)
    trainer.run(range(epoch_length), max_epochs=3)  # as Ignite: a handler of EXCEPTION_RAISED takes the exception
    assert [path.name for path in tmp_path.iterdir()] == ["trainer_5.pt"]
    seen: list[int] = []
    resumed: Engine[Any] = Engine(lambda engine, batch: seen.append(batch))
    Checkpoint.load_objects({"trainer": resumed}, tmp_path / "trainer_5.pt")
    resumed.run(range(epoch_length), max_epochs=3)
    assert seen[0] == failed[0] and len(seen) == 3 * epoch_length - 4


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_ctrl_c_and_system_exit_propagate_after_the_exception_handlers_ran(error: type[BaseException]) -> None:
    handled: list[type[BaseException]] = []

    def step(engine: Engine[Any], batch: int) -> None:
        if engine.state.iteration == 2:
            raise error

    trainer: Engine[Any] = Engine(step)
    trainer.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: handled.append(type(exc)))
    completed: list[int] = []
    trainer.add_event_handler(Events.COMPLETED, lambda e: completed.append(1))
    with pytest.raises(error):
        trainer.run(range(4))
    assert handled == [error] and completed == []


def test_an_exception_handler_may_still_swallow_an_ordinary_exception() -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: 1 / 0)
    trainer.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: None)
    assert trainer.run(range(3)).iteration == 0


def test_engine_state_dict_carries_the_metrics_and_checks_them_on_load() -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: None)
    trainer.run(range(2))
    assert "metrics" not in trainer.state_dict()  # an engine without metrics saves exactly Ignite's keys
    trainer.state.metrics["accuracy"] = 0.5
    saved = trainer.state_dict()
    assert saved["metrics"] == {"accuracy": 0.5}
    other: Engine[Any] = Engine(lambda engine, batch: None)
    other.load_state_dict(saved)
    assert other.state.metrics == {"accuracy": 0.5}
    with pytest.raises(ValueError, match="mapping of metric names"):
        other.load_state_dict({**saved, "metrics": [0.5]})


def test_an_epoch_metric_continued_after_an_exception_counts_the_whole_epoch_once() -> None:
    from cadence.metrics import Average

    failed: list[int] = []

    def step(engine: Engine[Any], batch: float) -> float:
        if batch == 3.0 and not failed:
            failed.append(1)
            raise RuntimeError("flaky")
        return batch

    trainer: Engine[Any] = Engine(step)
    Average().attach(trainer, "mean")
    with pytest.raises(RuntimeError):
        trainer.run([1.0, 2.0, 3.0, 4.0, 5.0])
    assert trainer.run([1.0, 2.0, 3.0, 4.0, 5.0]).metrics["mean"] == 3.0  # not the mean of 3, 4, 5 only
