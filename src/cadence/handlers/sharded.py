"""Sharded checkpoints in a local (or shared) folder: :class:`ShardedDiskSaver`, every rank writing its shards.

A :class:`ShardedDiskSaver` given to :class:`~cadence.handlers.checkpoint.Checkpoint` makes each checkpoint
a folder ``<name>.dcp`` in DCP's layout (see :mod:`cadence.handlers.dcp`): loading reshards, a checkpoint
written by N ranks loads on M ranks, into FSDP2-sharded models or plain ones.

The folder is written under a temporary name and published by a rename once DCP has written every rank's
files and the metadata, so a folder named ``*.dcp`` with a ``.metadata`` file is always complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cadence.distributed import barrier, get_rank, get_world_size
from cadence.handlers._files import TEMP_SUFFIX, fsync_dir
from cadence.handlers.dcp import EXT, ShardedBackgroundSaves, ShardedStore, blob, load_place, read_place, sharded_state
from cadence.handlers.savers import DiskPlace, DiskSaver

__all__ = [
    "ShardedBackgroundSaves",
    "ShardedDiskSaver",
    "blob",
    "load_sharded",
    "read_metadata",
    "sharded_state",
]


class ShardedDiskSaver(ShardedStore, DiskSaver):
    """Write each checkpoint as a sharded DCP folder ``dirname/<name>.dcp``, every rank writing its shards.

    Give it to :class:`~cadence.handlers.checkpoint.Checkpoint` (attached on every rank: a save is a
    collective). Naming, ``n_saved``, adoption of an earlier run's checkpoints and
    :meth:`Checkpoint.resume <cadence.handlers.checkpoint.Checkpoint.resume>` work as with
    :class:`DiskSaver`; the files are folders. ``dirname`` must be a folder every rank can read and
    write (a shared file system on several machines). Loading reshards to any world size, into
    FSDP2-sharded models or plain ones.

    Args:
        dirname: the folder of the checkpoint folders.
        create_dir: create ``dirname`` if it does not exist.
        require_empty: refuse a folder that already holds checkpoints.
        save_on_rank: the rank that writes the non-tensor entries, publishes and removes folders.

    Example:
        >>> import tempfile, torch
        >>> from cadence import Engine
        >>> from cadence.handlers import Checkpoint
        >>> folder = tempfile.mkdtemp()
        >>> model, trainer = torch.nn.Linear(2, 1), Engine(lambda e, b: None)
        >>> checkpoint = Checkpoint({"model": model, "trainer": trainer}, ShardedDiskSaver(folder))
        >>> checkpoint(trainer)
        >>> checkpoint.last_checkpoint.name
        'checkpoint_0.dcp'
        >>> Checkpoint.resume({"model": torch.nn.Linear(2, 1)}, folder).name
        'checkpoint_0.dcp'
    """

    ext = EXT
    removes_after_saving = True  # each name is a folder of its own

    def __init__(
        self, dirname: str | Path, create_dir: bool = True, require_empty: bool = True, save_on_rank: int = 0
    ) -> None:
        world_size = get_world_size()
        if isinstance(save_on_rank, int) and not isinstance(save_on_rank, bool) and save_on_rank >= world_size:
            ranks = "rank 0" if world_size == 1 else f"ranks 0 to {world_size - 1}"
            raise ValueError(
                f"save_on_rank={save_on_rank}, but this run has {world_size} process{'es' * (world_size > 1)} "
                f"({ranks}): its checkpoints would never be published. Use one of its ranks (0 by default)."
            )
        DiskSaver.__init__(self, dirname, True, create_dir, require_empty, save_on_rank, wait_all_ranks=True)
        barrier()  # the folder exists before any rank writes into it

    def _check_and_setup(self, create_dir: bool, require_empty: bool) -> None:
        super()._check_and_setup(create_dir, False)
        existing = sorted(p.name for p in self.dirname.iterdir() if p.suffix == f".{EXT}")
        if require_empty and existing:
            raise ValueError(
                f"Checkpoints {existing} are already present in the directory {self.dirname}: another run's. "
                "Use another folder, remove them, or pass require_empty=False to reuse it."
            )

    def place(self, filename: str) -> DiskPlace:
        """The folder of the checkpoint ``filename``."""
        return DiskPlace(self.dirname / filename)

    def begin(self, filename: str) -> DiskPlace:
        """The temporary folder of ``filename``'s save, emptied of an interrupted save's files (a collective)."""
        temporary = self.dirname / f".{filename}.{hashlib.sha1(filename.encode()).hexdigest()[:12]}{TEMP_SUFFIX}"
        if get_rank() == self.save_on_rank:
            shutil.rmtree(temporary, ignore_errors=True)
        barrier()
        return DiskPlace(temporary)

    def publish(self, place: Any, filename: str) -> None:
        """Rename the complete temporary folder to ``filename`` (replacing any such), durably: its files are
        fsynced by their writers, its own entries here, the rename by fsyncing the checkpoints' folder."""
        final = self.dirname / filename
        fsync_dir(place.path)  # else a power cut after the rename may leave the folder without its files
        if final.exists():
            self.remove(filename)
        os.replace(place.path, final)
        fsync_dir(self.dirname)

    def __repr__(self) -> str:
        return f"ShardedDiskSaver(dirname={str(self.dirname)!r}, save_on_rank={self.save_on_rank})"


def read_metadata(path: Path) -> Any:
    """The DCP metadata of the sharded checkpoint folder ``path``; an error names a missing folder, an unreadable
    ``.metadata`` or a missing shard file.

    Example:
        >>> import tempfile
        >>> read_metadata(Path(tempfile.mkdtemp()))
        Traceback (most recent call last):
        ...
        ValueError: Cannot read sharded checkpoint ...: its .metadata file is missing or corrupted ...
    """
    if not Path(path).is_dir():
        raise FileNotFoundError(f"Sharded checkpoint {str(path)!r} does not exist (or is not a folder).")
    return read_place(DiskPlace(path))[0]


def load_sharded(
    to_load: Mapping[str, Any], path: str | Path, *, strict: bool = True, weights_only: bool = True
) -> None:
    """Load ``to_load`` from the sharded checkpoint folder ``path``, on any number of ranks (a collective), all
    checks done first (see :func:`~cadence.handlers.dcp.load_place`).

    Example:
        >>> import tempfile, torch
        >>> from cadence import Engine
        >>> from cadence.handlers import Checkpoint
        >>> folder = tempfile.mkdtemp()
        >>> Checkpoint({"model": torch.nn.Linear(2, 1)}, ShardedDiskSaver(folder))(Engine(lambda e, b: None))
        >>> load_sharded({"model": torch.nn.Linear(3, 1)}, f"{folder}/model_0.dcp")
        Traceback (most recent call last):
        ...
        cadence.exceptions.CheckpointMismatchError: Cannot load checkpoint from ...: 'weight' of 'model' \
has shape (1, 2) in the checkpoint, (1, 3) here.
    """
    if not Path(path).is_dir():
        raise FileNotFoundError(f"Sharded checkpoint {str(path)!r} does not exist (or is not a folder).")
    load_place(to_load, DiskPlace(path), strict=strict, weights_only=weights_only)
