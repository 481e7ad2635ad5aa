"""A DataLoader whose batches, worker seeds and so random augmentation depend only on ``(seed, epoch)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from cadence.data.rng import _seed_cpu, derive_seed
from cadence.data.sampler import ReproducibleBatchSampler

__all__ = ["reproducible_dataloader", "seed_worker"]

T = TypeVar("T")

_RESERVED = {
    "sampler": "the order comes from the built-in ReproducibleBatchSampler",
    "batch_sampler": "the order comes from the built-in ReproducibleBatchSampler",
    "generator": "the worker seeds come from a generator reseeded from (seed, epoch)",
}


def seed_worker(worker_id: int) -> None:
    """Seed Python's ``random``, NumPy and torch in a DataLoader worker from its torch-given seed.

    The torch-given seed is the loader's base seed plus ``worker_id``; with the generator of
    :func:`reproducible_dataloader` the base seed depends only on ``(seed, epoch)``, so each
    worker's random numbers depend only on ``(seed, epoch, worker_id)``. Use as ``worker_init_fn``.

    Example:
        >>> seed_worker(0)
        Traceback (most recent call last):
        ...
        RuntimeError: seed_worker must run inside a DataLoader worker; pass it as worker_init_fn=seed_worker
    """
    info = get_worker_info()
    if info is None:
        raise RuntimeError("seed_worker must run inside a DataLoader worker; pass it as worker_init_fn=seed_worker")
    _seed_cpu(derive_seed(info.seed, worker_id))  # CPU only: workers must not touch CUDA


class _BatchSeeded(Dataset[T]):
    """The user's dataset (``.dataset``); in a worker, reseeds the RNGs before each batch.

    The seed comes from ``(seed, epoch, first index of the batch)``, so a batch's augmentation does
    not depend on which worker loads it nor on how many batches that worker loaded before: a run
    resumed mid-epoch repeats it exactly.
    """

    def __init__(self, dataset: Dataset[T], sampler: ReproducibleBatchSampler) -> None:
        self.dataset = dataset
        self.sampler = sampler  # a worker sees it as it was when the DataLoader iterator was made

    def __len__(self) -> int:
        return _sized(self.dataset)

    def __getitem__(self, index: int) -> T:
        return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> list[T]:
        if indices and get_worker_info() is not None:
            _seed_cpu(derive_seed(self.sampler.seed, self.sampler.epoch, indices[0]))
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return list(getitems(indices))
        return [self.dataset[index] for index in indices]


class _SeedThenCall:
    """``worker_init_fn`` that seeds the worker, then calls the user's own (picklable for spawn)."""

    def __init__(self, user_fn: Callable[[int], None]) -> None:
        self.user_fn = user_fn

    def __call__(self, worker_id: int) -> None:
        seed_worker(worker_id)
        self.user_fn(worker_id)


def reproducible_dataloader(
    dataset: Dataset[T],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
    num_replicas: int | None = None,
    rank: int | None = None,
    **dataloader_kwargs: Any,
) -> DataLoader[T]:
    """Build a ``DataLoader`` over a map-style dataset whose batches depend only on ``(seed, epoch)``.

    Its ``batch_sampler`` is a :class:`ReproducibleBatchSampler` (call ``set_epoch`` and
    ``resume_from`` on it; the engine does). Workers are seeded from ``(seed, epoch, worker_id)``
    and reseeded before each batch from ``(seed, epoch, first index of the batch)``, so random
    augmentation in ``__getitem__`` repeats exactly for any ``num_workers > 0``, also after a
    mid-epoch resume. With ``num_workers=0`` augmentation uses the main process's RNG, which a
    deterministic engine captures and restores. ``loader.dataset.dataset`` is ``dataset``. Other
    keyword arguments go to ``DataLoader``; ``persistent_workers=True`` is refused because
    workers would keep their RNG states across epochs.

    Example:
        >>> loader = reproducible_dataloader(list(range(6)), 4, seed=3)
        >>> loader.batch_sampler.set_epoch(1); batches = [b.tolist() for b in loader]
        >>> loader.batch_sampler.resume_from(1); [b.tolist() for b in loader] == batches[1:]
        True
    """
    for name, reason in _RESERVED.items():
        if name in dataloader_kwargs:
            raise ValueError(f"reproducible_dataloader sets {name}= itself ({reason}); remove {name}=...")
    if dataloader_kwargs.get("persistent_workers"):
        raise ValueError(
            "persistent_workers=True keeps worker RNG states across epochs, so a resumed run could not "
            "repeat them; remove it (workers are then re-seeded from (seed, epoch) every epoch)"
        )
    user_init = dataloader_kwargs.pop("worker_init_fn", None)
    if user_init is not None and not callable(user_init):
        raise TypeError(f"worker_init_fn must be callable, got {type(user_init).__name__}")
    generator = torch.Generator()
    batch_sampler = ReproducibleBatchSampler(
        _sized(dataset),
        batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        seed=seed,
        num_replicas=num_replicas,
        rank=rank,
        worker_seed_generator=generator,
    )
    return DataLoader(
        _BatchSeeded(dataset, batch_sampler),
        batch_sampler=batch_sampler,
        num_workers=num_workers,
        generator=generator,
        worker_init_fn=seed_worker if user_init is None else _SeedThenCall(user_init),
        **dataloader_kwargs,
    )


def _sized(dataset: object) -> int:
    try:
        return len(dataset)  # type: ignore[arg-type]  # checked by the except below
    except TypeError:
        raise TypeError(
            f"reproducible_dataloader needs a map-style dataset with __len__, got {type(dataset).__name__}; "
            "for an iterable dataset use a plain DataLoader (resume then re-reads skipped batches)"
        ) from None
