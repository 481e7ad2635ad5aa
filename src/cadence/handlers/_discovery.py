"""Finding the checkpoint files in a folder, newest first: by the step they hold, never by file times.

File times do not survive a copy (``cp``, ``rsync`` without ``-t``, an object store) and can be changed
by anything that touches a file, so the order comes from the global step in each file's name, else from
the engine state stored in the file.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cadence.handlers._loading import load_objects, read_checkpoint
from cadence.handlers.savers import is_complete, temporary_target

__all__ = ["checkpoints_by_recency", "find_latest_checkpoint", "load_latest", "step_in_name", "stored_iteration"]

# "{name}_{global_step}" then, optionally, "_{score}" or "_{score_name}={score}" (a score name may hold "_").
_STEP_IN_NAME = re.compile(
    r".*_(?P<step>\d+)(?:_(?:[^=]*=)?-?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))?\.(?:pt|dcp)", re.IGNORECASE
)


def step_in_name(name: str) -> int | None:
    """The global step in a checkpoint's file name as :class:`Checkpoint` names them, or ``None``.

    Example:
        >>> step_in_name("checkpoint_120.pt"), step_in_name("model_12_val_acc=0.9100.pt"), step_in_name("model_0.91.pt")
        (120, 12, None)
    """
    match = _STEP_IN_NAME.fullmatch(name)
    return int(match["step"]) if match else None


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


def checkpoints_by_recency(dirname: str | Path, filename_prefix: str = "") -> list[Path]:
    """Return the complete checkpoint files (``.pt``) in ``dirname`` whose names start with
    ``filename_prefix``, newest first.

    Newest means the highest global step in the file's name (``checkpoint_20.pt`` before ``checkpoint_15.pt``,
    whatever their file times); files without a step in their name come after, ordered by the engine
    iteration stored in them. Temporary files of interrupted saves are left out.

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
    folder = Path(dirname)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder.")
    candidates = [
        path
        for path in folder.iterdir()
        if path.suffix in (".pt", ".dcp")
        and path.name.startswith(filename_prefix)
        and temporary_target(path.name) is None
        and is_complete(path)
    ]

    def newness(path: Path) -> tuple[bool, int, str]:
        step = step_in_name(path.name)
        if step is not None:
            return True, step, path.name
        iteration = stored_iteration(path)
        return False, -1 if iteration is None else iteration, path.name

    return sorted(candidates, key=newness, reverse=True)


def find_latest_checkpoint(dirname: str | Path, filename_prefix: str = "") -> Path | None:
    """Return the newest complete checkpoint (``.pt``) in ``dirname``, or ``None``
    (see :func:`checkpoints_by_recency`).

    Example:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp())
        >>> from cadence.handlers.savers import DiskSaver
        >>> DiskSaver(folder)({"w": torch.ones(1)}, "model_1.pt")
        >>> find_latest_checkpoint(folder).name
        'model_1.pt'
    """
    paths = checkpoints_by_recency(dirname, filename_prefix)
    return paths[0] if paths else None


def load_latest(
    to_load: Mapping[str, Any], dirname: str | Path, *, filename_prefix: str = "", strict: bool = True
) -> Path | None:
    """Load the newest readable checkpoint in ``dirname`` into ``to_load`` and return its path; ``None`` when
    the folder is missing or holds none. Unreadable ones are skipped with a warning; one that does not fit
    ``to_load`` raises (see :meth:`Checkpoint.resume <cadence.handlers.checkpoint.Checkpoint.resume>`).

    Example:
        >>> import tempfile
        >>> load_latest({"model": torch.nn.Linear(2, 1)}, tempfile.mkdtemp()) is None
        True
    """
    folder = Path(dirname)
    if not folder.is_dir():
        return None
    for path in checkpoints_by_recency(folder, filename_prefix):
        try:
            if path.is_dir():
                from cadence.handlers.sharded import read_metadata

                read_metadata(path)  # a complete, readable sharded checkpoint (its files are loaded below)
                checkpoint: Path | Mapping[str, Any] = path
            else:
                checkpoint = read_checkpoint(path)
        except ValueError as exc:
            warnings.warn(f"Skipping a checkpoint that cannot be read, using the one before it: {exc}", stacklevel=3)
            continue
        load_objects(to_load, checkpoint, strict=strict)
        return path
    return None
