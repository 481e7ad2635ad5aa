"""Loading a state from a ``STARTED`` handler moves the run that is starting, as Ignite's (and MONAI's)
resume handlers rely on; from any other handler of a running engine it is refused."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import TensorDataset

from cadence import DeterministicEngine, Engine, Events, create_supervised_trainer
from cadence.data.loader import reproducible_dataloader
from cadence.handlers import Checkpoint


def recording_engine(seen: list[tuple[int, int]]) -> Engine[int]:
    def step(engine: Engine[int], batch: int) -> int:
        seen.append((engine.state.iteration, batch))
        return batch

    return Engine(step)


@settings(max_examples=25, deadline=None)
@given(stop=st.integers(min_value=0, max_value=30))
def test_a_state_loaded_at_started_continues_exactly_where_it_was_saved(stop: int) -> None:
    data = list(range(10))
    full: list[tuple[int, int]] = []
    recording_engine(full).run(data, max_epochs=3)

    first: list[tuple[int, int]] = []
    interrupted = recording_engine(first)
    interrupted.add_event_handler(Events.ITERATION_COMPLETED(once=stop) if stop else Events.STARTED, Engine.terminate)
    interrupted.run(data, max_epochs=3)
    saved = interrupted.state_dict()

    rest: list[tuple[int, int]] = []
    resumed = recording_engine(rest)
    epochs_started: list[tuple[int, bool]] = []
    resumed.add_event_handler(Events.STARTED, lambda engine: engine.load_state_dict(saved))
    resumed.add_event_handler(Events.EPOCH_STARTED, lambda e: epochs_started.append((e.state.epoch, e.resuming_epoch)))
    state = resumed.run(data, max_epochs=3)

    assert first + rest == full
    assert (state.iteration, state.epoch) == (30, 3)
    # terminate() after an iteration leaves its epoch in progress (its EPOCH_COMPLETED still to come)
    assert epochs_started[0] == ((-(-stop // 10), True) if stop else (1, False))


def make_training() -> tuple[nn.Module, torch.optim.Optimizer, Engine[Any], Any]:
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss())
    generator = torch.Generator().manual_seed(1)
    dataset = TensorDataset(torch.randn(40, 4, generator=generator), torch.randint(0, 2, (40,), generator=generator))
    return model, optimizer, trainer, reproducible_dataloader(dataset, 8, shuffle=True, seed=3)


def test_a_checkpoint_loaded_by_a_started_handler_resumes_training_exactly(tmp_path: Any) -> None:
    """MONAI's CheckpointLoader: ``Checkpoint.load_objects`` of model, optimizer and trainer at STARTED."""
    model, optimizer, trainer, loader = make_training()
    trainer.run(loader, max_epochs=4)
    expected = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    model, optimizer, trainer, loader = make_training()
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=13), Engine.terminate)
    trainer.run(loader, max_epochs=4)
    torch.save({name: obj.state_dict() for name, obj in to_save.items()}, tmp_path / "checkpoint.pt")

    model, optimizer, trainer, loader = make_training()
    to_load = {"model": model, "optimizer": optimizer, "trainer": trainer}
    trainer.add_event_handler(
        Events.STARTED, lambda _: Checkpoint.load_objects(to_load, torch.load(tmp_path / "checkpoint.pt"))
    )
    state = trainer.run(loader, max_epochs=4)
    assert state.iteration == 20
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_loading_from_any_other_handler_of_a_running_engine_is_refused() -> None:
    engine = Engine(lambda engine, batch: None)
    saved = Engine(lambda engine, batch: None)
    saved.run([0, 1, 2])
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.load_state_dict(saved.state_dict()))
    with pytest.raises(RuntimeError, match="from a STARTED handler"):
        engine.run([0, 1, 2], max_epochs=2)


def test_a_state_for_other_data_is_refused_at_started_before_anything_changes() -> None:
    other = Engine(lambda engine, batch: None)
    other.add_event_handler(Events.ITERATION_COMPLETED(once=2), Engine.terminate)
    other.run(list(range(5)), max_epochs=2)
    engine = Engine(lambda engine, batch: None)
    engine.add_event_handler(Events.STARTED, lambda e: e.load_state_dict(other.state_dict()))
    with pytest.raises(ValueError, match="5"):
        engine.run(list(range(3)), max_epochs=2)
    assert engine.state.iteration == 0


def test_a_finished_state_loaded_at_started_completes_at_once() -> None:
    done = Engine(lambda engine, batch: None)
    done.run([0, 1], max_epochs=2)
    calls: list[int] = []
    engine = Engine(lambda engine, batch: calls.append(batch))
    completed: list[int] = []
    engine.add_event_handler(Events.STARTED, lambda e: e.load_state_dict(done.state_dict()))
    engine.add_event_handler(Events.COMPLETED, lambda e: completed.append(e.state.iteration))
    engine.run([0, 1], max_epochs=2)
    assert calls == [] and completed == [4]


def test_a_deterministic_engine_loaded_at_started_repeats_the_same_draws() -> None:
    def draws(engine: Engine[float], batch: int) -> float:
        return float(torch.rand(1).item())

    outputs: list[float] = []
    full = DeterministicEngine(draws, seed=5)
    full.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(e.state.output))
    full.run(list(range(6)), max_epochs=2)

    interrupted = DeterministicEngine(draws, seed=5)
    interrupted.add_event_handler(Events.ITERATION_COMPLETED(once=4), Engine.terminate)
    interrupted.run(list(range(6)), max_epochs=2)
    saved = interrupted.state_dict()

    rest: list[float] = []
    resumed = DeterministicEngine(draws, seed=5)
    resumed.add_event_handler(Events.STARTED, lambda e: e.load_state_dict(saved))
    resumed.add_event_handler(Events.ITERATION_COMPLETED, lambda e: rest.append(e.state.output))
    resumed.run(list(range(6)), max_epochs=2)
    assert rest == outputs[4:]

    other_seed = DeterministicEngine(draws, seed=6)
    other_seed.add_event_handler(Events.STARTED, lambda e: e.load_state_dict(saved))
    with pytest.raises(ValueError, match="seed=5"):
        other_seed.run(list(range(6)), max_epochs=2)
