"""Resuming puts the data where the run stopped: the engine's side of exact resume."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, DistributedSampler

from cadence import Engine, Events


def batches_seen(engine: Engine[Any]) -> list[Any]:
    seen: list[Any] = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.batch))
    return seen


def run_interrupted_then_resumed(make_data: Any, stop_at: int, **run_kwargs: Any) -> tuple[list[Any], list[Any]]:
    """A full run, and a run stopped at ``stop_at`` then resumed in a new engine from its state_dict."""
    full = Engine(lambda e, b: b)
    expected = batches_seen(full)
    full.run(make_data(), **run_kwargs)

    first = Engine(lambda e, b: b)
    got = batches_seen(first)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.interrupt())
    first.run(make_data(), **run_kwargs)
    saved = first.state_dict()
    second = Engine(lambda e, b: b)
    second.load_state_dict(saved)
    resumed = batches_seen(second)
    second.run(make_data())
    return expected, got + resumed


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 7), epochs=st.integers(1, 3), epoch_length=st.integers(1, 9), data=st.data())
def test_resume_from_state_dict_gives_the_same_batches(length: int, epochs: int, epoch_length: int, data: Any) -> None:
    total = epochs * epoch_length
    if total == 1:
        return
    stop_at = data.draw(st.integers(1, total - 1))  # stopping at the very end leaves a finished run
    expected, got = run_interrupted_then_resumed(
        lambda: list(range(length)), stop_at, max_epochs=epochs, epoch_length=epoch_length
    )
    assert got == expected


class CountingIterable:
    """An iterable of unknown structure (no len, no hooks)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.read = 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.read += 1
            yield i


def test_unstructured_iterable_is_re_read_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match="re-reading and discarding 3 batches"):
        expected, got = run_interrupted_then_resumed(lambda: CountingIterable(5), 8, max_epochs=2, epoch_length=5)
    assert got == expected


class PositionedSampler:
    """A batch sampler with cadence's O(1) hooks, recording how it was positioned."""

    def __init__(self, n: int, batch_size: int) -> None:
        self.n, self.batch_size, self.epoch, self.start = n, batch_size, 0, 0
        self.calls: list[tuple[str, int]] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.calls.append(("set_epoch", epoch))

    def resume_from(self, batch_index: int) -> None:
        self.start = batch_index
        self.calls.append(("resume_from", batch_index))

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.epoch)).tolist()
        batches = [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        start, self.start = self.start, 0
        return iter(batches[start:])

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def state_dict(self) -> dict[str, int]:
        return {"n": self.n, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["batch_size"] != self.batch_size:
            raise ValueError(f"batch_size {state['batch_size']} != {self.batch_size}")


def test_sampler_hooks_are_used_for_o1_resume_and_epochs() -> None:
    def make() -> DataLoader[Any]:
        return DataLoader(list(range(10)), batch_sampler=PositionedSampler(10, 3))

    expected, got = run_interrupted_then_resumed(make, 6, max_epochs=3)
    assert [b.tolist() for b in got] == [b.tolist() for b in expected]
    loader = make()
    engine = Engine(lambda e, b: b)
    engine.load_state_dict({"epoch_length": 4, "iteration": 6, "max_epochs": 3, "sampler": {"n": 10, "batch_size": 3}})
    engine.run(loader)
    calls = loader.batch_sampler.calls  # type: ignore[union-attr]
    assert calls[:2] == [("set_epoch", 1), ("resume_from", 2)] and calls[2:] == [("set_epoch", 2), ("resume_from", 0)]


def test_sampler_mismatch_is_reported_when_resuming() -> None:
    engine = Engine(lambda e, b: b)
    engine.load_state_dict({"epoch_length": 4, "iteration": 6, "max_epochs": 3, "sampler": {"n": 10, "batch_size": 5}})
    with pytest.raises(ValueError, match="batch_size 5 != 3"):
        engine.run(DataLoader(list(range(10)), batch_sampler=PositionedSampler(10, 3)))


def test_distributed_sampler_gets_set_epoch_each_pass() -> None:
    sampler = DistributedSampler(list(range(8)), num_replicas=2, rank=0, shuffle=True, seed=1)
    loader = DataLoader(list(range(8)), sampler=sampler, batch_size=2)
    epochs: list[int] = []
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: epochs.append(sampler.epoch))
    engine.run(loader, max_epochs=3)
    assert epochs == [0, 1, 2]


class StatefulLoader:
    """Mimics torchdata's StatefulDataLoader: it knows its own position."""

    def __init__(self, n: int) -> None:
        self.n, self.position = n, 0

    def __iter__(self) -> Iterator[int]:
        start = self.position
        self.position = 0
        for i in range(start, self.n):
            self.position = i + 1
            yield i
        self.position = 0

    def state_dict(self) -> dict[str, int]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.position = state["position"]


def test_stateful_loader_state_is_saved_and_restored() -> None:
    expected, got = run_interrupted_then_resumed(lambda: StatefulLoader(5), 7, max_epochs=2, epoch_length=5)
    assert got == expected


def test_resume_with_shorter_data_is_reported() -> None:
    engine = Engine(lambda e, b: b)
    engine.load_state_dict({"epoch_length": 6, "iteration": 4, "max_epochs": 1})
    with (
        pytest.raises(ValueError, match="shorter than when the checkpoint was made"),
        pytest.warns(RuntimeWarning, match="re-reading"),
    ):
        engine.run(CountingIterable(2))


def test_torchdata_stateful_dataloader_resumes_its_epoch_exactly() -> None:
    stateful = pytest.importorskip("torchdata.stateful_dataloader")

    def make() -> Any:
        generator = torch.Generator().manual_seed(0)
        return stateful.StatefulDataLoader(list(range(10)), batch_size=3, shuffle=True, generator=generator)

    full = Engine(lambda e, b: b.tolist())
    expected = batches_seen(full)
    full.run(make(), max_epochs=2)
    first = Engine(lambda e, b: b.tolist())
    got = batches_seen(first)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.interrupt())
    first.run(make(), max_epochs=2)
    saved = first.state_dict()
    assert "dataloader" in saved  # the loader's own state travels with the engine's
    second = Engine(lambda e, b: b.tolist())
    second.load_state_dict(saved)
    resumed = batches_seen(second)
    second.run(make())
    assert [b.tolist() for b in got + resumed] == [b.tolist() for b in expected]


def test_resume_with_data_of_another_length_names_both_lengths() -> None:
    engine = Engine(lambda e, b: b)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda e: e.interrupt())
    engine.run(list(range(5)), max_epochs=2)
    resumed = Engine(lambda e, b: b)
    resumed.load_state_dict(engine.state_dict())
    with pytest.raises(ValueError, match="data of 5 batches per pass; this data has 7"):
        resumed.run(list(range(7)))


def test_a_refused_resume_stays_refused() -> None:
    engine = Engine(lambda e, b: b)
    engine.load_state_dict({"epoch_length": 4, "iteration": 2, "max_epochs": 2, "data_length": 4})
    started = batches_seen(engine)
    for _ in range(2):
        with pytest.raises(ValueError, match="data of 4 batches per pass; this data has 10"):
            engine.run(list(range(10)))
    assert started == [] and engine.state.iteration == 2
    assert engine.run(list(range(4))).iteration == 8
