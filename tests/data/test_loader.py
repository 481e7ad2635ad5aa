import random
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from cadence.data import (
    ReproducibleBatchSampler,
    capture_rng_states,
    reproducible_dataloader,
    restore_rng_states,
    seed_worker,
)


class Augmenting(Dataset[torch.Tensor]):
    """Item i plus noise from Python's random, NumPy and torch, as random augmentation would draw it."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> torch.Tensor:
        noise = [random.random(), float(np.random.rand()), float(torch.rand(()))]
        return torch.tensor([float(index), *noise], dtype=torch.float64)


def run_epoch(loader: Any, epoch: int, start: int = 0) -> list[torch.Tensor]:
    loader.batch_sampler.set_epoch(epoch)
    loader.batch_sampler.resume_from(start)
    return list(loader)


def same(first: list[torch.Tensor], second: list[torch.Tensor]) -> bool:
    return len(first) == len(second) and all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_workers_give_identical_augmented_batches_for_the_same_seed_and_epoch() -> None:
    make = lambda: reproducible_dataloader(Augmenting(), 3, seed=11, num_workers=2)  # noqa: E731
    torch.manual_seed(0)
    first = run_epoch(make(), 1)
    torch.manual_seed(12345)  # the main process's RNG must not matter with workers
    random.seed(6)
    second = run_epoch(make(), 1)
    assert same(first, second)
    assert not same(first, run_epoch(make(), 2))
    assert sorted(int(row[0]) for batch in first for row in batch) == list(range(12))


def test_workers_repeat_augmentation_after_a_mid_epoch_resume() -> None:
    loader = reproducible_dataloader(Augmenting(), 3, seed=11, num_workers=2)
    whole = run_epoch(loader, 1)
    assert same(run_epoch(loader, 1, start=1), whole[1:])  # batch 1 now comes from worker 0, not 1
    assert loader.dataset.dataset.__class__ is Augmenting  # type: ignore[attr-defined]


class BatchFetching(Augmenting):
    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        return [torch.cat([row, torch.tensor([-1.0], dtype=torch.float64)]) for row in map(self.__getitem__, indices)]


def test_a_datasets_own_batch_fetching_is_kept() -> None:
    batches = run_epoch(reproducible_dataloader(BatchFetching(), 4, num_workers=1), 0)
    assert all(batch[:, -1].eq(-1).all() for batch in batches)


def test_without_workers_order_depends_on_seed_and_epoch_and_augmentation_on_main_rng() -> None:
    torch.manual_seed(99)
    states = capture_rng_states()
    first = run_epoch(reproducible_dataloader(Augmenting(), 5, seed=2), 4)
    restore_rng_states(states)  # what the deterministic engine does on resume
    second = run_epoch(reproducible_dataloader(Augmenting(), 5, seed=2), 4)
    assert same(first, second)
    later = run_epoch(reproducible_dataloader(Augmenting(), 5, seed=2), 4)
    assert same([b[:, 0] for b in first], [b[:, 0] for b in later])
    assert not same(first, later)


def test_iterating_does_not_touch_the_global_torch_rng() -> None:
    loader = reproducible_dataloader(list(range(10)), 4, seed=0)
    before = torch.get_rng_state()
    iter(loader)
    assert torch.equal(before, torch.get_rng_state())


class WorkerMarked(Dataset[int]):
    marker = -1

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        return self.marker


def mark_worker(worker_id: int) -> None:
    info = get_worker_info()
    assert info is not None
    info.dataset.dataset.marker = 100 + worker_id  # type: ignore[attr-defined]  # loader.dataset wraps ours


def test_the_users_worker_init_fn_runs_after_seeding() -> None:
    loader = reproducible_dataloader(WorkerMarked(), 2, num_workers=1, worker_init_fn=mark_worker)
    assert [batch.tolist() for batch in loader] == [[100, 100], [100, 100]]


def test_the_loader_uses_a_reproducible_batch_sampler_and_passes_other_options() -> None:
    loader = reproducible_dataloader(list(range(10)), 4, seed=1, drop_last=True, num_replicas=2, rank=1, timeout=0)
    assert isinstance(loader.batch_sampler, ReproducibleBatchSampler)
    assert loader.batch_sampler.state_dict()["rank"] == 1
    assert len(loader) == 1


class Endless(IterableDataset[int]):
    def __iter__(self) -> Any:
        return iter(range(3))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sampler": [0]}, ValueError, "sets sampler= itself"),
        ({"batch_sampler": [[0]]}, ValueError, "sets batch_sampler= itself"),
        ({"generator": torch.Generator()}, ValueError, "sets generator= itself"),
        ({"persistent_workers": True, "num_workers": 1}, ValueError, "persistent_workers=True"),
        ({"worker_init_fn": 3}, TypeError, "worker_init_fn must be callable"),
        ({"seed": -1}, ValueError, "seed must be in"),
    ],
)
def test_reproducible_dataloader_rejects_bad_options(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        reproducible_dataloader(list(range(4)), 2, **kwargs)


def test_reproducible_dataloader_needs_a_sized_dataset() -> None:
    with pytest.raises(TypeError, match="needs a map-style dataset with __len__, got Endless"):
        reproducible_dataloader(Endless(), 2)


def test_seed_worker_outside_a_worker_says_how_to_use_it() -> None:
    with pytest.raises(RuntimeError, match="worker_init_fn=seed_worker"):
        seed_worker(0)
