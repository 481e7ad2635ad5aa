"""Opening the data iterator at a position: the engine's side of exact resume.

The engine never re-creates its iterator per epoch (Ignite semantics); it opens a new one at the
start of a run, when the data is exhausted, after ``terminate_epoch()`` and when resuming. Each time
it tells the data where the stream stands, through duck-typed hooks looked up on the data object,
its ``batch_sampler`` and its ``sampler``:

- ``set_epoch(pass_index)`` (e.g. ``DistributedSampler``, cadence's reproducible samplers),
- ``resume_from(batch_index)``: start the next pass at that batch in O(1) (cadence's samplers),
- ``state_dict()``/``load_state_dict()`` on the data itself (torchdata's ``StatefulDataLoader``):
  saved with the engine and restored instead of positioning.

Data with none of these is re-read and the consumed batches discarded, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

from cadence.data.position import set_data_position, skip_batches

__all__ = ["check_saved_data", "data_length", "data_states", "open_iterator", "stream_position"]


def data_length(data: Iterable[Any]) -> int | None:
    """``len(data)``, or ``None`` when it has none (a generator, a DataLoader over an IterableDataset)."""
    if not isinstance(data, Sized):
        return None
    try:
        return len(data)
    except TypeError:  # DataLoader defines __len__ but raises for an IterableDataset without one
        return None


def _samplers(data: Iterable[Any]) -> list[Any]:
    """The objects that decide ``data``'s order (a DataLoader's ``sampler`` is unused when it has a batch sampler)."""
    batch_sampler = getattr(data, "batch_sampler", None)
    found = [batch_sampler, getattr(batch_sampler, "sampler", None)] if batch_sampler is not None else []
    return [s for s in [*found, getattr(data, "sampler", None) if batch_sampler is None else None] if s is not None]


def _stateful(obj: object) -> bool:
    return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))


def stream_position(
    data: Iterable[Any], *, epoch: int, epoch_iteration: int, iteration: int, epoch_length: int | None, origin: int = 0
) -> tuple[int, int]:
    """Return ``(pass_index, batch_offset)`` of the next batch to read from ``data``.

    ``origin`` is the iteration at which the data was last read from its start (``terminate_epoch()``
    and ``set_data()`` restart it). When an epoch is one pass over the data, the pass is the 0-based
    epoch; otherwise the data is a continuous stream and the pass follows from the iteration count.
    """
    length = data_length(data)
    if length is None or length == 0:
        return max(epoch - 1, 0), epoch_iteration
    if length == epoch_length:
        return max(epoch - 1, 0), (iteration - origin) % length
    return divmod(iteration - origin, length)


def data_states(data: Iterable[Any] | None) -> dict[str, Any]:
    """What of the data must be saved with the engine: a stateful loader's state, or its sampler's."""
    if data is None:
        return {}
    length = data_length(data)
    states: dict[str, Any] = {"data_length": length} if length is not None else {}
    if _stateful(data):
        return {**states, "dataloader": data.state_dict()}  # type: ignore[attr-defined]  # checked by _stateful
    samplers = [s for s in _samplers(data) if _stateful(s)]
    return {**states, "sampler": samplers[0].state_dict()} if samplers else states


def check_saved_data(data: Iterable[Any], saved: dict[str, Any]) -> None:
    """Check ``data`` against what a checkpoint recorded of its data, before a resumed run starts.

    The length and the sampler's settings (seed, batch size, dataset length...) must match; each is
    removed from ``saved`` once it has passed, so a refused run can be retried with the right data.
    """
    length = data_length(data)
    if saved.get("data_length") is not None and length is not None and length != saved["data_length"]:
        raise ValueError(
            f"The checkpoint was made with data of {saved['data_length']} batches per pass; this data has {length} "
            "(another dataset or batch size?). Resume with the same data, or start a fresh run."
        )
    saved.pop("data_length", None)
    if "sampler" in saved:
        samplers = [s for s in _samplers(data) if _stateful(s)]
        if samplers:  # raises, naming both values, when the sampler differs from the checkpoint's
            samplers[0].load_state_dict(saved["sampler"])
        del saved["sampler"]


def open_iterator(data: Iterable[Any], pass_index: int, offset: int, saved: dict[str, Any]) -> Iterator[Any]:
    """Open an iterator over ``data`` whose first batch is batch ``offset`` of pass ``pass_index``.

    ``saved`` holds states from :func:`data_states` loaded with a checkpoint (consumed here).
    """
    if "dataloader" in saved and _stateful(data):
        data.load_state_dict(saved.pop("dataloader"))  # type: ignore[attr-defined]  # checked by _stateful
        return iter(data)
    positioned = set_data_position(data, epoch=pass_index, batch_index=offset)
    if not offset or positioned:
        return iter(data)
    if not isinstance(data, Sequence):
        warnings.warn(
            f"Resuming mid-epoch by re-reading and discarding {offset} batches of {type(data).__name__}, which "
            "cannot be positioned directly. Use cadence.data.reproducible_dataloader (O(1) resume) or torchdata's "
            "StatefulDataLoader to avoid this.",
            RuntimeWarning,
            stacklevel=5,
        )
    return skip_batches(iter(data), offset)
