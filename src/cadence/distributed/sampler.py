"""Distributed samplers: one that gives every sample to exactly one rank (no padding), and one that shares
out the indices of any other sampler among the ranks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import Any

import torch
from torch.utils.data import DistributedSampler, Sampler

from cadence.distributed.context import get_rank, get_world_size

__all__ = ["DistributedProxySampler", "UnpaddedDistributedSampler"]


class UnpaddedDistributedSampler(Sampler[int]):
    """Split a dataset's indices among ranks so that each index appears on exactly one rank.

    Unlike ``torch.utils.data.DistributedSampler`` it never repeats samples to even out the ranks, so
    metrics reduced over all ranks count every sample once; ranks may differ by one sample. Use it for
    evaluation. Rank ``r`` gets positions ``r, r + world_size, ...`` of the (optionally shuffled) order.

    Args:
        dataset: anything with ``len()``.
        num_replicas: the number of ranks (default: the world size).
        rank: this rank (default: the current rank).
        shuffle: shuffle with ``seed + epoch`` (the same order on every rank).
        seed: base seed for shuffling.

    Example:
        >>> sampler = UnpaddedDistributedSampler(range(5), num_replicas=2, rank=1)
        >>> list(sampler), len(sampler)
        ([1, 3], 2)
    """

    def __init__(
        self,
        dataset: Sized,
        *,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        if not isinstance(dataset, Sized):
            raise TypeError(f"UnpaddedDistributedSampler needs a dataset with len(), got {type(dataset).__name__}.")
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive int, got {num_replicas!r}.")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be an int in [0, {num_replicas - 1}] (below num_replicas), got {rank!r}.")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        size = len(self.dataset)
        if not self.shuffle:
            return iter(range(self.rank, size, self.num_replicas))
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        order = torch.randperm(size, generator=generator)
        return iter(order[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))

    def set_epoch(self, epoch: int) -> None:
        """Choose the shuffle of ``epoch`` (call it at every epoch start when shuffling).

        Example:
            >>> sampler = UnpaddedDistributedSampler(range(4), num_replicas=1, rank=0, shuffle=True)
            >>> sampler.set_epoch(3); sampler.epoch
            3
        """
        self.epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """The sampler's state: its epoch.

        Example:
            >>> UnpaddedDistributedSampler(range(4), num_replicas=1, rank=0).state_dict()
            {'epoch': 0}
        """
        return {"epoch": self.epoch}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the epoch saved by :meth:`state_dict`.

        Example:
            >>> sampler = UnpaddedDistributedSampler(range(4), num_replicas=1, rank=0)
            >>> sampler.load_state_dict({"epoch": 2}); sampler.epoch
            2
        """
        if "epoch" not in state_dict or not isinstance(state_dict["epoch"], int):
            raise ValueError(f"Expected a state dict with an int 'epoch', got {dict(state_dict)!r}.")
        self.epoch = state_dict["epoch"]


class DistributedProxySampler(DistributedSampler):  # type: ignore[type-arg]  # yields ints, like the wrapped sampler
    """Share out the indices drawn by any sampler (e.g. ``WeightedRandomSampler``) among the ranks.

    Every rank draws the same indices (the wrapped sampler is seeded with the epoch given to
    :meth:`set_epoch`, without touching the global RNG), pads them like ``DistributedSampler`` so that
    all ranks get as many, and keeps positions ``rank, rank + num_replicas, ...``.

    Args:
        sampler: a sampler with ``len()``; not a distributed sampler already.
        num_replicas: the number of ranks (default: the world size).
        rank: this rank (default: the current rank).

    Example:
        >>> from torch.utils.data import SequentialSampler
        >>> [list(DistributedProxySampler(SequentialSampler(range(5)), num_replicas=2, rank=r)) for r in (0, 1)]
        [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(self, sampler: Sampler[int], num_replicas: int | None = None, rank: int | None = None) -> None:
        if not isinstance(sampler, Sampler):
            raise TypeError(f"Argument sampler should be instance of torch Sampler, but given: {type(sampler)}")
        if isinstance(sampler, DistributedSampler | UnpaddedDistributedSampler):
            raise TypeError("Argument sampler must not be a distributed sampler already; pass the sampler it wraps.")
        if not isinstance(sampler, Sized):
            raise TypeError("Argument sampler should have length (define __len__).")
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        super().__init__(sampler, num_replicas=num_replicas, rank=rank, shuffle=False)  # type: ignore[arg-type]  # a sized sampler stands for the dataset
        self.sampler = sampler

    def __iter__(self) -> Iterator[int]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.epoch)
            indices = list(self.sampler)
        if not indices and self.total_size:
            raise ValueError(f"The wrapped sampler has length {len(self.sampler)} but yielded no index.")
        while len(indices) < self.total_size:
            indices += indices[: self.total_size - len(indices)]
        return iter(indices[self.rank : self.total_size : self.num_replicas])
