"""DeterministicEngine: same seed, same run; stopped anywhere and resumed, still the same run."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset

from cadence import DeterministicEngine, Events


@pytest.fixture(autouse=True)
def _restore_global_determinism() -> Iterator[None]:
    yield
    torch.use_deterministic_algorithms(False)


class Augmented(Dataset[torch.Tensor]):
    """Each item is noisy, drawing from torch, NumPy and Python RNGs in the main process."""

    def __len__(self) -> int:
        return 7

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([index + torch.rand(1).item(), float(np.random.rand()), random.random()])


def noisy_step(engine: Any, batch: torch.Tensor) -> torch.Tensor:
    return batch.sum(dim=1) + torch.randn(len(batch))  # the step itself draws random numbers too


def outputs_of(engine: DeterministicEngine[Any]) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output.clone()))
    return seen


def loader() -> DataLoader[torch.Tensor]:
    return DataLoader(Augmented(), batch_size=2, shuffle=True)


def test_same_seed_same_run_and_another_seed_another_run() -> None:
    runs = []
    for seed in (5, 5, 6):
        engine = DeterministicEngine(noisy_step, seed=seed)
        seen = outputs_of(engine)
        engine.run(loader(), max_epochs=2)
        runs.append(torch.cat(seen))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    assert torch.are_deterministic_algorithms_enabled()


@settings(max_examples=15, deadline=None)
@given(stop_at=st.integers(1, 11))
def test_interrupt_anywhere_and_resume_from_a_saved_state_is_exact(stop_at: int) -> None:
    full = DeterministicEngine(noisy_step, seed=1)
    expected = outputs_of(full)
    full.run(loader(), max_epochs=3)

    first = DeterministicEngine(noisy_step, seed=1)
    got = outputs_of(first)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.interrupt())
    first.run(loader(), max_epochs=3)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    torch.manual_seed(12345)  # whatever happens in between must not matter
    random.seed(1)
    buffer.seek(0)
    second = DeterministicEngine(noisy_step, seed=1)
    second.load_state_dict(torch.load(buffer, weights_only=True))
    resumed = outputs_of(second)
    second.run(loader())
    assert len(got + resumed) == len(expected) == 12
    assert all(torch.equal(a, b) for a, b in zip(got + resumed, expected, strict=True))


def test_plain_loader_is_rebuilt_to_be_reproducible() -> None:
    engine = DeterministicEngine(lambda e, b: b, seed=2)
    state = engine.run(loader())
    assert state.dataloader is not None and hasattr(state.dataloader.batch_sampler, "resume_from")
    custom = DataLoader(list(range(4)), batch_sampler=[[0, 1], [2, 3]])
    assert engine.run(custom).dataloader is custom


def test_load_checks_the_seed() -> None:
    engine = DeterministicEngine(lambda e, b: b, seed=1)
    engine.run([1, 2])
    saved = engine.state_dict()
    with pytest.raises(ValueError, match="seed=1, this engine has seed=9"):
        DeterministicEngine(lambda e, b: b, seed=9).load_state_dict(saved)
    with pytest.raises(ValueError, match="seed must be"):
        DeterministicEngine(lambda e, b: b, seed=-1)
    with pytest.raises(ValueError, match="does not support the option of data=None"):
        DeterministicEngine(lambda e, b: b).run(max_epochs=1, epoch_length=2)


def test_state_without_rng_states_replays_the_resumed_epoch_from_its_seed() -> None:
    """As Ignite: a state saved without RNG states (rng_states=None) reseeds the resumed epoch's start."""

    def draws(engine: DeterministicEngine[float]) -> list[float]:
        seen: list[float] = []
        engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output))
        torch.manual_seed(5)  # the seed is drawn from torch's state when the run starts
        engine.run(list(range(4)), max_epochs=3)
        return seen

    full = draws(DeterministicEngine(lambda e, b: torch.rand(1).item()))
    resumed = DeterministicEngine(lambda e, b: torch.rand(1).item())
    resumed.load_state_dict({"epoch_length": 4, "iteration": 6, "max_epochs": 3, "rng_states": None})
    again = draws(resumed)
    # The resumed epoch restarts from its start seed (its first draws are those of the epoch's start, since the
    # skipped batches were not processed); the next epoch starts from its own seed and matches exactly.
    assert again[:2] == full[4:6]
    assert again[-4:] == full[-4:]


@pytest.mark.parametrize("limit", [{"max_epochs": 1}, {"max_iters": 2}])
def test_a_finished_run_started_again_draws_a_new_seed(limit: dict[str, int]) -> None:
    engine = DeterministicEngine(lambda e, b: None)
    torch.manual_seed(1)
    first = engine.run([0, 1], **limit).seed
    torch.manual_seed(2)
    assert engine.run([0, 1], **limit).seed != first
