"""Finding the checkpoint files in a folder, newest first."""

from __future__ import annotations

import re
from pathlib import Path

from cadence.handlers.savers import TEMP_SUFFIX

__all__ = ["checkpoints_by_recency", "find_latest_checkpoint"]

_STEP_AT_END = re.compile(r"_(\d+)(?:_[^_]*)?\.pt$")


def checkpoints_by_recency(dirname: str | Path, filename_prefix: str = "") -> list[Path]:
    """Return the complete checkpoint files (``.pt``) in ``dirname`` whose names start with
    ``filename_prefix``, newest first.

    Temporary files of interrupted saves are left out. Files written within the same clock tick are
    ordered by the global step in their names (the larger first).

    Example:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp())
        >>> from cadence.handlers.savers import DiskSaver
        >>> saver = DiskSaver(folder)
        >>> for step in (1, 2):
        ...     saver({"w": torch.ones(1)}, f"model_{step}.pt")
        >>> [path.name for path in checkpoints_by_recency(folder)]
        ['model_2.pt', 'model_1.pt']
    """
    folder = Path(dirname)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder.")
    candidates = [
        path
        for path in folder.iterdir()
        if path.suffix == ".pt"
        and path.is_file()
        and path.name.startswith(filename_prefix)
        and not path.name.endswith(TEMP_SUFFIX)
    ]

    def recency(path: Path) -> tuple[int, int]:
        match = _STEP_AT_END.search(path.name)
        return path.stat().st_mtime_ns, int(match.group(1)) if match else -1

    return sorted(candidates, key=recency, reverse=True)


def find_latest_checkpoint(dirname: str | Path, filename_prefix: str = "") -> Path | None:
    """Return the most recently written complete checkpoint (``.pt``) in ``dirname``, or ``None``
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
