"""Putting a data object at "epoch e, batch k": in O(1) through its sampler, or by re-reading."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from itertools import islice
from typing import TypeVar

from cadence.data.sampler import ResumableSampler

__all__ = ["positions_directly", "set_data_position", "skip_batches"]

T = TypeVar("T")


def _resumable_with_scale(data: object) -> tuple[ResumableSampler, int] | None:
    """The sampler that decides ``data``'s order, and how many of its items make one batch of ``data``."""
    if isinstance(data, ResumableSampler):
        return data, 1
    batch_sampler = getattr(data, "batch_sampler", None)
    if isinstance(batch_sampler, ResumableSampler):
        return batch_sampler, 1
    if batch_sampler is not None:
        inner = getattr(batch_sampler, "sampler", None)
        batch_size = getattr(batch_sampler, "batch_size", None)
        if isinstance(inner, ResumableSampler) and isinstance(batch_size, int):
            return inner, batch_size
        return None
    sampler = getattr(data, "sampler", None)
    return (sampler, 1) if isinstance(sampler, ResumableSampler) else None


def positions_directly(data: object) -> bool:
    """Whether ``data``'s order comes from one of cadence's resumable samplers (positioned in O(1)).

    Example:
        >>> from cadence.data import reproducible_dataloader
        >>> positions_directly(reproducible_dataloader(list(range(4)), 2, seed=0)), positions_directly([1, 2])
        (True, False)
    """
    return _resumable_with_scale(data) is not None


def set_data_position(data: object, *, epoch: int, batch_index: int = 0) -> bool:
    """Make the next ``iter(data)`` yield pass ``epoch`` (0-based) from batch ``batch_index`` on.

    Looks for a sampler with ``set_epoch`` and ``resume_from`` on ``data`` itself, its
    ``batch_sampler``, the ``sampler`` inside that, or its ``sampler``. Returns ``True`` when the
    position is set in O(1); ``False`` when ``data`` has no such sampler: then only ``set_epoch``
    was called where one exists (e.g. ``DistributedSampler``), and the caller must skip
    ``batch_index`` batches itself (see :func:`skip_batches`).

    Example:
        >>> from cadence.data import reproducible_dataloader
        >>> loader = reproducible_dataloader(list(range(8)), 2, shuffle=False)
        >>> set_data_position(loader, epoch=0, batch_index=3), [b.tolist() for b in loader]
        (True, [[6, 7]])
        >>> set_data_position([1, 2, 3], epoch=0, batch_index=1)
        False
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0 (the 0-based pass index), got {epoch!r}")
    if isinstance(batch_index, bool) or not isinstance(batch_index, int) or batch_index < 0:
        raise ValueError(f"batch_index must be an int >= 0, got {batch_index!r}")
    found = _resumable_with_scale(data)
    if found is not None:
        sampler, scale = found
        position = batch_index * scale
        if scale > 1 and isinstance(sampler, Sized) and len(sampler) < position < len(sampler) + scale:
            position = len(sampler)  # the end of an epoch whose last batch was partial
        sampler.set_epoch(epoch)
        sampler.resume_from(position)
        return True
    batch_sampler = getattr(data, "batch_sampler", None)
    for candidate in (data, batch_sampler, getattr(batch_sampler, "sampler", None), getattr(data, "sampler", None)):
        set_epoch = getattr(candidate, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
            break
    return False


def skip_batches(batches: Iterable[T], count: int) -> Iterator[T]:
    """Read and discard ``count`` items of ``batches``; return the iterator, now at item ``count``.

    The fallback for data of unknown structure: it costs as much as reading those batches.
    Raises ``ValueError`` when the data ends first (it is shorter than when the checkpoint was made).

    Example:
        >>> list(skip_batches(iter("abcde"), 2))
        ['c', 'd', 'e']
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be an int >= 0 (the number of batches to skip), got {count!r}")
    iterator = iter(batches)
    skipped = sum(1 for _ in islice(iterator, count))
    if skipped < count:
        raise ValueError(
            f"the data ended after {skipped} batches while skipping {count}; it is shorter than when the "
            "checkpoint was made (resume needs the same data, batch size and epoch_length)"
        )
    return iterator
