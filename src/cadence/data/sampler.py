"""Samplers whose order in epoch ``e`` depends only on ``(seed, e)``, resumable at any batch in O(1)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import Any, Protocol, runtime_checkable

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from cadence.data.rng import _check_seed, derive_seed

__all__ = ["ReproducibleBatchSampler", "ReproducibleSampler", "ResumableSampler"]

#: Salt that separates the worker-seed stream from the shuffling stream of the same (seed, epoch).
_WORKER_SALT = 0x5EED_0F_D47A


@runtime_checkable
class ResumableSampler(Protocol):
    """What the engine needs from a sampler to restore a data position in O(1).

    ``set_epoch(epoch)`` picks the (0-based) pass whose order the next ``iter()`` yields;
    ``resume_from(position)`` makes the next ``iter()`` start ``position`` items into that pass.

    Example:
        >>> isinstance(ReproducibleBatchSampler(10, 2), ResumableSampler)
        True
    """

    def set_epoch(self, epoch: int) -> None: ...

    def resume_from(self, batch_index: int) -> None: ...


def _non_negative_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _dataset_length(data_source_or_length: int | Sized) -> int:
    if isinstance(data_source_or_length, Sized) and not isinstance(data_source_or_length, (str, bytes)):
        return len(data_source_or_length)
    if isinstance(data_source_or_length, int) and not isinstance(data_source_or_length, bool):
        return _non_negative_int(data_source_or_length, "dataset length")
    raise TypeError(
        "data_source_or_length must be a dataset with __len__ or an int length, "
        f"got {type(data_source_or_length).__name__}; samplers need a map-style dataset"
    )


def _replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    distributed = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if distributed else 1
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
        raise ValueError(f"num_replicas must be an int >= 1, got {num_replicas!r}")
    if rank is None:
        if distributed:
            rank = dist.get_rank()
        elif num_replicas == 1:
            rank = 0
        else:
            raise ValueError(
                f"rank is needed with num_replicas={num_replicas} when torch.distributed is not initialised; "
                "pass rank=... or initialise the process group first"
            )
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be an int in [0, {num_replicas}) for num_replicas={num_replicas}, got {rank!r}")
    return num_replicas, rank


class _EpochOrder:
    """The shared part: configuration, the epoch's shard, the resume protocol and the state dict."""

    def __init__(
        self,
        data_source_or_length: int | Sized,
        *,
        step: int,
        shuffle: bool,
        drop_last: bool,
        seed: int,
        num_replicas: int | None,
        rank: int | None,
        worker_seed_generator: torch.Generator | None,
    ) -> None:
        if worker_seed_generator is not None and not isinstance(worker_seed_generator, torch.Generator):
            raise TypeError(f"worker_seed_generator must be a torch.Generator, got {type(worker_seed_generator)}")
        self._length = _dataset_length(data_source_or_length)
        self._step = step
        self._shuffle = bool(shuffle)
        self._drop_last = bool(drop_last)
        self._seed = _check_seed(seed)
        self._num_replicas, self._rank = _replicas(num_replicas, rank)
        self._worker_seed_generator = worker_seed_generator
        self._epoch = 0
        self._resume_at = 0
        if self._drop_last:
            self._per_rank = self._length // self._num_replicas
        else:
            self._per_rank = -(-self._length // self._num_replicas)
        self._reseed_worker_generator()

    @property
    def seed(self) -> int:
        """The seed that, with the epoch, decides the order."""
        return self._seed

    @property
    def epoch(self) -> int:
        """The 0-based pass whose order the next ``iter()`` yields."""
        return self._epoch

    def __len__(self) -> int:
        if self._drop_last:
            return self._per_rank // self._step
        return -(-self._per_rank // self._step)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` yield the order of pass ``epoch`` (0-based)."""
        self._epoch = _non_negative_int(epoch, "epoch")
        self._reseed_worker_generator()

    def resume_from(self, batch_index: int) -> None:
        """Make the next iterator (only that one) start at ``batch_index`` of the current epoch, in O(1).

        The first iterator to be advanced takes the position, so set it before iterating.
        """
        _non_negative_int(batch_index, "batch_index")
        if batch_index > len(self):
            raise ValueError(
                f"batch_index={batch_index} is past the end of the epoch, which has {len(self)} "
                "steps for this rank; was the checkpoint made with another dataset length or batch size?"
            )
        self._resume_at = batch_index

    def state_dict(self) -> dict[str, Any]:
        """The configuration and epoch; the position inside the epoch belongs to the engine."""
        return {"kind": type(self).__name__, "epoch": self._epoch, **self._config()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Check that ``state_dict`` was made by a sampler like this one, then take its epoch.

        ``rank`` is not compared: a checkpoint written by rank 0 is loaded by every rank. A batch sampler
        also takes a checkpoint of another ``num_replicas`` with the same global batch (``num_replicas *
        batch_size``): global batch ``k`` holds the same indices with any number of ranks (but for the
        wrap-around padding of the last one), so a run resumed on another world size goes on at the same
        global position.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping from state_dict(), got {type(state_dict).__name__}")
        expected = set(self.state_dict())
        if set(state_dict) != expected:
            raise ValueError(
                f"sampler state_dict must have the keys {sorted(expected)}; missing "
                f"{sorted(expected - set(state_dict))}, unexpected {sorted(set(state_dict) - expected)}"
            )
        if state_dict["kind"] != type(self).__name__:
            raise ValueError(f"checkpoint holds a {state_dict['kind']} state, this is a {type(self).__name__}")
        config = self._config()
        same_global_batch = "batch_size" in config and (
            state_dict["num_replicas"] * state_dict["batch_size"] == config["num_replicas"] * config["batch_size"]
        )
        free = {"rank", "num_replicas", "batch_size"} if same_global_batch else {"rank"}
        mismatches = [
            f"checkpoint was made with {key}={state_dict[key]!r}, this sampler has {key}={value!r}"
            for key, value in config.items()
            if key not in free and state_dict[key] != value
        ]
        if mismatches:
            raise ValueError("; ".join(mismatches) + "; build the sampler with the checkpoint's settings")
        self.set_epoch(state_dict["epoch"])

    def _config(self) -> dict[str, Any]:
        return {
            "seed": self._seed,
            "dataset_length": self._length,
            "num_replicas": self._num_replicas,
            "rank": self._rank,
            "shuffle": self._shuffle,
            "drop_last": self._drop_last,
        }

    def _reseed_worker_generator(self) -> None:
        if self._worker_seed_generator is not None:
            self._worker_seed_generator.manual_seed(derive_seed(self._seed, self._epoch, _WORKER_SALT))

    def _shard(self, epoch: int) -> torch.Tensor:
        """This rank's indices for the current epoch, padded or cut like DistributedSampler."""
        if self._shuffle:
            generator = torch.Generator()
            generator.manual_seed(derive_seed(self._seed, epoch))
            order = torch.randperm(self._length, generator=generator)
        else:
            order = torch.arange(self._length)
        total = self._per_rank * self._num_replicas
        if total > self._length:  # pad by wrapping around, so every rank gets the same count
            order = order.repeat(-(-total // self._length))
        return order[self._rank : total : self._num_replicas]

    def _begin_pass(self) -> int:
        """Start an ``iter()``: fix the epoch and reseed the worker-seed generator; return the epoch."""
        # Reseeding here too makes a DataLoader's worker base seed (drawn right after it calls
        # iter() on the sampler) depend only on (seed, epoch), however often it is iterated.
        self._reseed_worker_generator()
        return self._epoch

    def _tail(self, epoch: int) -> tuple[list[int], int]:
        """Consume the one-shot resume position; return the indices from there and the steps left.

        Runs at the first ``next()``, not at ``iter()``: a DataLoader with workers calls ``iter()``
        twice and advances only the second iterator, which must get the position.
        """
        start, self._resume_at = self._resume_at, 0
        return self._shard(epoch)[start * self._step :].tolist(), len(self) - start


class ReproducibleSampler(_EpochOrder, Sampler[int]):
    """Yield dataset indices in an order that depends only on ``(seed, epoch)``; resumable in O(1).

    With ``num_replicas > 1`` (or an initialised ``torch.distributed``) all ranks share one global
    order and rank ``r`` takes every ``num_replicas``-th index from position ``r``, padded by
    wrapping around (or cut with ``drop_last``) like ``DistributedSampler``. ``resume_from(n)``
    skips ``n`` indices; inside ``DataLoader(batch_size=B)`` batch ``k`` starts at ``k * B``.

    Args:
        data_source_or_length: a map-style dataset or its length.
        shuffle: random order per epoch, else ``0, 1, 2, ...``.
        drop_last: drop the tail that does not split evenly across ranks instead of padding.
        seed: with the epoch, decides the order.
        num_replicas: the number of ranks; ``None`` takes torch.distributed's world size, else 1.
        rank: this process's rank; ``None`` takes torch.distributed's rank, else 0.
        worker_seed_generator: reseeded from ``(seed, epoch)`` by ``set_epoch`` and ``iter()``;
            pass the same one to ``DataLoader(generator=...)``.

    Example:
        >>> sampler = ReproducibleSampler(6, seed=1)
        >>> sampler.set_epoch(2); order = list(sampler)
        >>> sampler.resume_from(4); list(sampler) == order[4:]
        True
    """

    def __init__(
        self,
        data_source_or_length: int | Sized,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        worker_seed_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(
            data_source_or_length,
            step=1,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
            worker_seed_generator=worker_seed_generator,
        )

    def __iter__(self) -> Iterator[int]:
        return self._indices(self._begin_pass())

    def _indices(self, epoch: int) -> Iterator[int]:
        indices, _ = self._tail(epoch)
        yield from indices


class ReproducibleBatchSampler(_EpochOrder, Sampler[list[int]]):
    """Yield batches of dataset indices in an order that depends only on ``(seed, epoch)``.

    ``resume_from(k)`` makes the next ``iter()`` start at batch ``k`` of the current epoch without
    producing the batches before it. Distributed sharding is that of :class:`ReproducibleSampler`
    (strided, padded like ``DistributedSampler``), so every rank yields ``len(sampler)`` batches.
    Pass it to ``DataLoader(batch_sampler=...)``, or use :func:`reproducible_dataloader`.

    Args:
        data_source_or_length: a map-style dataset or its length.
        batch_size: indices per batch.
        shuffle: random order per epoch, else ``0, 1, 2, ...``.
        drop_last: drop the last incomplete batch and the tail that does not split evenly across ranks.
        seed, num_replicas, rank, worker_seed_generator: as for :class:`ReproducibleSampler`.

    Example:
        >>> sampler = ReproducibleBatchSampler(5, 2, shuffle=False)
        >>> list(sampler)
        [[0, 1], [2, 3], [4]]
        >>> sampler.resume_from(1); list(sampler), len(sampler)
        ([[2, 3], [4]], 3)
    """

    def __init__(
        self,
        data_source_or_length: int | Sized,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        worker_seed_generator: torch.Generator | None = None,
    ) -> None:
        if _non_negative_int(batch_size, "batch_size") == 0:
            raise ValueError("batch_size must be >= 1, got 0")
        self._batch_size = batch_size
        super().__init__(
            data_source_or_length,
            step=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
            worker_seed_generator=worker_seed_generator,
        )

    @property
    def batch_size(self) -> int:
        """Indices per batch."""
        return self._batch_size

    def __iter__(self) -> Iterator[list[int]]:
        return self._batches(self._begin_pass())

    def _batches(self, epoch: int) -> Iterator[list[int]]:
        indices, batches = self._tail(epoch)
        size = self._batch_size
        for start in range(0, batches * size, size):
            yield indices[start : start + size]

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "batch_size": self._batch_size}
