"""Finding the checkpoints of a folder (or any store), newest first: by the step they hold, never by file times.

File times do not survive a copy (``cp``, ``rsync`` without ``-t``, an object store) and can be changed
by anything that touches a file, so the order comes from the global step in each checkpoint's name, read by
the naming authority (:class:`~cadence.handlers._naming.Naming`: cadence's default patterns, or the
``filename_pattern`` the checkpoints were saved with), else from the engine state stored in the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cadence.exceptions import CheckpointMismatchError
from cadence.handlers._locations import is_url, store_at
from cadence.handlers._naming import recency_namings
from cadence.handlers.storage import CheckpointStore

__all__ = ["checkpoints_by_recency", "find_latest_checkpoint", "load_latest", "step_in_name", "stored_iteration"]

_EXTENSIONS = (".pt", ".dcp")


def step_in_name(name: str) -> int | None:
    """The global step in a checkpoint's name as :class:`Checkpoint` names them by default, or ``None``.

    Example:
        >>> step_in_name("checkpoint_120.pt"), step_in_name("model_12_val_acc=0.9100.pt"), step_in_name("model_0.91.pt")
        (120, 12, None)
    """
    return _step(name, recency_namings())


def _step(name: str, namings: list[Any]) -> int | None:
    for naming in namings:
        parsed = naming.parse(name)
        if parsed is not None and parsed[0] is not None:
            return int(parsed[0])
    return None


def stored_iteration(path: str | Path) -> int | None:
    """The engine iteration stored in the checkpoint at ``path`` (an entry with an integer ``"iteration"``), or
    ``None`` when it holds none or cannot be read. Tensors are memory-mapped, not read.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "best.pt")
        >>> torch.save({"model": {"w": torch.ones(1)}, "trainer": {"iteration": 40, "epoch_length": 8}}, path)
        >>> stored_iteration(path)
        40
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # unreadable, or not a zip checkpoint: it holds no step we can trust
        return None
    if not isinstance(checkpoint, Mapping):
        return None
    for entry in (checkpoint, *checkpoint.values()):
        if isinstance(entry, Mapping):
            iteration = entry.get("iteration")
            if isinstance(iteration, int) and not isinstance(iteration, bool):
                return iteration
    return None


def _reachable(location: str | Path) -> bool:
    return is_url(location) or Path(location).is_dir()


def _by_recency(store: CheckpointStore, filename_prefix: str, filename_pattern: str | None) -> list[str]:
    namings = recency_namings(filename_prefix, filename_pattern)
    names = [
        name
        for name in store.listing().complete
        if name.startswith(filename_prefix) and (filename_pattern is not None or name.endswith(_EXTENSIONS))
    ]

    def newness(name: str) -> tuple[bool, int, str]:
        step = _step(name, namings)
        if step is not None:
            return True, step, name
        if filename_pattern is not None:
            return False, -1, name
        location = store.location(name)
        iteration = stored_iteration(location) if isinstance(location, Path) else None
        return False, -1 if iteration is None else iteration, name

    return sorted(names, key=newness, reverse=True)


def checkpoints_by_recency(
    dirname: str | Path, filename_prefix: str = "", *, filename_pattern: str | None = None
) -> list[Path | str]:
    """Return the complete checkpoints in ``dirname`` (a folder, or a URL such as ``s3://bucket/run``) whose names
    start with ``filename_prefix``, newest first.

    Newest means the highest global step in the name (``checkpoint_20.pt`` before ``checkpoint_15.pt``,
    whatever their file times), read with ``filename_pattern`` (the pattern they were saved with) or, without
    it, cadence's default patterns; in that case files without a step in their name come after, ordered by the
    engine iteration stored in them. Leftovers of interrupted saves are left out.

    Example:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp())
        >>> from cadence.handlers.savers import DiskSaver
        >>> saver = DiskSaver(folder)
        >>> for step in (20, 3):
        ...     saver({"w": torch.ones(1)}, f"model_{step}.pt")
        >>> [path.name for path in checkpoints_by_recency(folder)]
        ['model_20.pt', 'model_3.pt']
    """
    if not _reachable(dirname):
        raise ValueError(f"{str(dirname)!r} is not a folder.")
    store = store_at(dirname)
    return [store.location(name) for name in _by_recency(store, filename_prefix, filename_pattern)]


def find_latest_checkpoint(
    dirname: str | Path, filename_prefix: str = "", *, filename_pattern: str | None = None
) -> Path | str | None:
    """Return the newest complete checkpoint in ``dirname``, or ``None`` (see :func:`checkpoints_by_recency`).

    Example:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp())
        >>> from cadence.handlers.savers import DiskSaver
        >>> DiskSaver(folder)({"w": torch.ones(1)}, "model_1.pt")
        >>> find_latest_checkpoint(folder).name
        'model_1.pt'
    """
    paths = checkpoints_by_recency(dirname, filename_prefix, filename_pattern=filename_pattern)
    return paths[0] if paths else None


def load_latest(
    to_load: Mapping[str, Any],
    dirname: str | Path | CheckpointStore,
    *,
    filename_prefix: str = "",
    filename_pattern: str | None = None,
    strict: bool = True,
) -> Path | str | None:
    """Load the newest readable checkpoint in ``dirname`` into ``to_load`` and return its location; ``None`` when
    there is none (or no such folder). Unreadable or corrupted ones are skipped with a warning; one that does
    not fit ``to_load`` raises (see :meth:`Checkpoint.resume <cadence.handlers.checkpoint.Checkpoint.resume>`).

    Example:
        >>> import tempfile
        >>> load_latest({"model": torch.nn.Linear(2, 1)}, tempfile.mkdtemp()) is None
        True
    """
    if not isinstance(dirname, CheckpointStore) and not _reachable(dirname):
        return None
    store = store_at(dirname)
    for name in _by_recency(store, filename_prefix, filename_pattern):
        try:
            store.verify(name)
            store.load(to_load, name, strict=strict, verified=True)
        except CheckpointMismatchError:
            raise  # a readable checkpoint of something else: falling back would resume another run
        except (ValueError, FileNotFoundError) as exc:
            warnings.warn(f"Skipping a checkpoint that cannot be read, using the one before it: {exc}", stacklevel=3)
            continue
        return store.location(name)
    return None
