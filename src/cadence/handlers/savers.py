"""Checkpoints in a local folder: :class:`DiskSaver` (one :func:`torch.save` file each, published by a rename).

Also the home of the atomic-write helpers (:func:`atomic_write`, :func:`fsync_dir`, :func:`temporary_target`)
and of :class:`~cadence.handlers.storage.BaseSaveHandler`, at the paths cadence has always offered them.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from cadence.distributed import barrier, get_rank
from cadence.handlers._files import TEMP_SUFFIX, atomic_write, fsync_dir, temporary_name, temporary_target, write_file
from cadence.handlers._loading import check_stream, load_mapping, read_checkpoint, torch_load
from cadence.handlers.dcp import Place, load_place, verify_place
from cadence.handlers.storage import BaseSaveHandler, CheckpointStore, Listing

__all__ = [
    "TEMP_SUFFIX",
    "BaseSaveHandler",
    "DiskPlace",
    "DiskSaver",
    "atomic_write",
    "fsync_dir",
    "is_complete",
    "temporary_target",
]


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a checkpoint file, or a sharded checkpoint folder with its ``.metadata`` (see
    :class:`~cadence.handlers.sharded.ShardedDiskSaver`).

    Example:
        >>> import tempfile
        >>> is_complete(Path(tempfile.mkdtemp()))
        False
    """
    return path.is_file() or (path / ".metadata").is_file()


class DiskPlace(Place):
    """A sharded checkpoint's folder on a local (or mounted, shared) file system.

    Example:
        >>> import tempfile
        >>> DiskPlace(tempfile.mkdtemp()).files()
        set()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)

    def writer(self) -> Any:
        """DCP's file-system writer, fsyncing each file."""
        from torch.distributed.checkpoint.filesystem import FileSystemWriter

        return FileSystemWriter(self.path, sync_files=True)

    def reader(self) -> Any:
        """DCP's file-system reader."""
        from torch.distributed.checkpoint.filesystem import FileSystemReader

        return FileSystemReader(self.path)

    def files(self) -> set[str]:
        """The names of the folder's files."""
        return {p.name for p in self.path.iterdir()} if self.path.is_dir() else set()

    def open(self, name: str, mode: str = "rb") -> IO[bytes]:
        """Open one of the folder's files."""
        file: IO[bytes] = (self.path / name).open(mode)
        return file


class DiskSaver(CheckpointStore):
    """Save checkpoints with :func:`torch.save` into the folder ``dirname``, atomically by default.

    Only the process of rank ``save_on_rank`` touches the folder. Extra keyword arguments go to
    :func:`torch.save`. As a :class:`~cadence.handlers.storage.CheckpointStore` it also lists, checks, reads and
    removes the folder's checkpoints (sharded folders written by a
    :class:`~cadence.handlers.ShardedDiskSaver` included).

    Args:
        dirname: the folder of the checkpoint files.
        atomic: write each file through a temporary file and a rename (a crash never leaves a partial
            file); ``False`` writes in place.
        create_dir: create ``dirname`` if it does not exist.
        require_empty: refuse a folder that already holds ``.pt`` files, so that an earlier run's
            checkpoints are not mixed up with (or overwritten by) this run's.
        save_on_rank: the rank that writes.
        wait_all_ranks: after each save, every rank waits at a barrier until the file is on disk, so that
            no rank reads it too early. Every rank must then call the saver (attach the checkpoint on
            all ranks). ``False`` (the default, as Ignite) lets a checkpoint be attached on one rank only;
            call ``idist.barrier()`` before other ranks read a fresh checkpoint.

    Example:
        >>> import tempfile, os
        >>> saver = DiskSaver(tempfile.mkdtemp())
        >>> saver({"weight": torch.ones(2)}, "model_1.pt")
        >>> os.listdir(saver.dirname)
        ['model_1.pt']
    """

    removes_after_saving = True  # each name is a file of its own

    def __init__(
        self,
        dirname: str | Path,
        atomic: bool = True,
        create_dir: bool = True,
        require_empty: bool = True,
        save_on_rank: int = 0,
        *,
        wait_all_ranks: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(save_on_rank, bool) or not isinstance(save_on_rank, int) or save_on_rank < 0:
            raise ValueError(f"save_on_rank must be a non-negative integer, got {save_on_rank!r}.")
        self.dirname = Path(dirname).expanduser()
        self.atomic = atomic
        self.save_on_rank = save_on_rank
        self.wait_all_ranks = bool(wait_all_ranks)
        self.kwargs = kwargs
        if get_rank() == save_on_rank:
            self._check_and_setup(create_dir, require_empty)

    @classmethod
    def reader(cls, dirname: str | Path) -> DiskSaver:
        """A store that reads the checkpoints in ``dirname`` (files and sharded folders alike): it neither
        creates nor checks the folder.

        Example:
            >>> import tempfile
            >>> DiskSaver.reader(tempfile.mkdtemp()).listing()
            Listing(complete=[], leftovers=[])
        """
        store = cls.__new__(cls)
        DiskSaver._set_fields(store, Path(dirname).expanduser())
        return store

    @staticmethod
    def _set_fields(store: DiskSaver, dirname: Path) -> None:
        store.dirname, store.atomic, store.save_on_rank, store.wait_all_ranks, store.kwargs = (
            dirname,
            True,
            0,
            False,
            {},
        )

    def _check_and_setup(self, create_dir: bool, require_empty: bool) -> None:
        if not self.dirname.exists():
            if not create_dir:
                raise ValueError(f"Directory path '{self.dirname}' is not found; create it or pass create_dir=True.")
            self.dirname.mkdir(parents=True, exist_ok=True)
        if not self.dirname.is_dir():
            raise ValueError(f"Checkpoint folder {str(self.dirname)!r} exists but is not a folder.")
        if require_empty:
            existing = sorted(p.name for p in self.dirname.iterdir() if p.suffix == ".pt")
            if existing:
                raise ValueError(
                    f"Files {existing} with extension '.pt' are already present in the directory {self.dirname}: "
                    "another run's checkpoints. Use another folder, remove them, or pass require_empty=False "
                    "to reuse it."
                )

    # ---------------------------------------------------------------- writing
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Write ``checkpoint`` to ``dirname/filename`` on ``save_on_rank``; with ``wait_all_ranks`` every rank
        then waits at a barrier, so that none goes on (or reads the file) before it is on disk."""
        if get_rank() == self.save_on_rank:
            self._save_func(checkpoint, self.dirname / filename, torch.save)
        if self.wait_all_ranks:
            barrier()

    @property
    def supports_async_save(self) -> bool:
        """``True``, unless a subclass saves in its own ``__call__`` (a background save would bypass it) without
        its own :meth:`save_in_background`."""
        cls = type(self)
        return cls.__call__ is DiskSaver.__call__ or cls.save_in_background is not DiskSaver.save_in_background

    def save_in_background(
        self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Write ``checkpoint`` as :meth:`__call__` does, on a writer thread: on ``save_on_rank`` only, no barrier
        (:meth:`after_background_save` holds it)."""
        if get_rank() == self.save_on_rank:
            self._save_func(checkpoint, self.dirname / filename, torch.save)

    def after_background_save(self, filename: str) -> None:
        """With ``wait_all_ranks``, every rank waits at a barrier, as after a synchronous save."""
        if self.wait_all_ranks:
            barrier()

    def _save_func(self, checkpoint: Mapping[str, Any], path: Path, save: Callable[..., None]) -> None:
        write_file(path, lambda file: save(checkpoint, file, **self.kwargs), atomic=self.atomic)

    def remove(self, filename: str) -> None:
        """Delete ``dirname/filename`` (a file, a sharded folder or a leftover temporary one), on ``save_on_rank``
        only; a missing one is not an error. A folder is first renamed, so that it never looks complete."""
        if get_rank() != self.save_on_rank:
            return
        path = self.dirname / filename
        if path.is_dir():
            doomed = path.with_name(temporary_name(path.name))
            with contextlib.suppress(FileNotFoundError):
                path.replace(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    # ---------------------------------------------------------------- the folder
    def location(self, filename: str) -> Path:
        """The path of ``filename``."""
        return self.dirname / filename

    def listing(self) -> Listing:
        """The folder's complete checkpoints (files, and sharded folders with their metadata; hidden names left
        out) and the temporary files and folders that interrupted saves left."""
        if not self.dirname.is_dir():
            return Listing([], [])
        complete, leftovers = [], []
        for path in self.dirname.iterdir():
            if temporary_target(path.name) is not None:
                leftovers.append(path.name)
            elif not path.name.startswith(".") and is_complete(path):
                complete.append(path.name)
        return Listing(sorted(complete), sorted(leftovers))

    def verify(self, filename: str) -> None:
        """Check that ``filename`` is a readable checkpoint whose content matches the checksums written with it
        (for a sharded folder, a collective when distributed)."""
        path = self.dirname / filename
        if path.is_dir():
            verify_place(DiskPlace(path))
            return
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint file {str(path)!r} does not exist (or is not a file).")
        with path.open("rb") as file:
            check_stream(file, str(path))

    def load(
        self,
        to_load: Mapping[str, Any],
        filename: str,
        *,
        strict: bool = True,
        weights_only: bool = True,
        map_location: Any = "cpu",
        verified: bool = False,
        **module_kwargs: Any,
    ) -> None:
        """Load ``to_load`` from ``dirname/filename`` (a file, or a sharded folder: a collective), checked first."""
        path = self.dirname / filename
        if path.is_dir():
            if not verified:
                verify_place(DiskPlace(path))
            load_place(to_load, DiskPlace(path), strict=strict, weights_only=weights_only)
            return
        if verified:
            checkpoint = torch_load(path, str(path), weights_only, map_location)
        else:
            checkpoint = read_checkpoint(path, weights_only=weights_only, map_location=map_location)
        load_mapping(to_load, checkpoint, source=f" from {str(path)!r}", strict=strict, **module_kwargs)

    def __repr__(self) -> str:
        return f"DiskSaver(dirname={str(self.dirname)!r}, atomic={self.atomic}, save_on_rank={self.save_on_rank})"
