"""Where checkpoints go: the save-handler protocol, atomic file writes and :class:`DiskSaver`."""

from __future__ import annotations

import contextlib
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from cadence.distributed import barrier, get_rank

__all__ = ["BaseSaveHandler", "DiskSaver", "atomic_write"]

TEMP_SUFFIX = ".tmp"


class BaseSaveHandler(ABC):
    """A checkpoint store: ``handler(checkpoint, filename, metadata)`` saves, ``remove(filename)`` deletes.

    Example:
        >>> class InMemory(BaseSaveHandler):
        ...     def __init__(self):
        ...         self.files = {}
        ...     def __call__(self, checkpoint, filename, metadata=None):
        ...         self.files[filename] = checkpoint
        ...     def remove(self, filename):
        ...         del self.files[filename]
        >>> store = InMemory()
        >>> store({"w": 1}, "model_1.pt")
        >>> list(store.files)
        ['model_1.pt']
    """

    @abstractmethod
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Save ``checkpoint`` under ``filename``."""

    @abstractmethod
    def remove(self, filename: str) -> None:
        """Delete the checkpoint saved under ``filename``."""


def _fsync_dir(dirname: Path) -> None:
    """Make a rename durable: fsync the folder (not possible, nor needed, on Windows)."""
    if os.name == "nt":
        return
    fd = os.open(dirname, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(path: Path) -> tuple[int, str]:
    """Create a new temporary file beside ``path``. Unlike ``mkstemp`` (always ``0600``) it gets the mode that
    ``open`` would give (``0666`` less the umask), so the final file is as readable as one written by ``torch.save``."""
    for _ in range(100):
        temp_name = str(path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            return os.open(
                temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            ), temp_name
        except FileExistsError:
            continue
    raise FileExistsError(f"Could not create a temporary file beside {str(path)!r}.")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that it is either complete or absent: ``write(file)`` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over ``path``; the folder is fsynced too.
    If ``write`` raises, the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> atomic_write(folder / "hello.txt", lambda f: f.write(b"hi"))
        >>> (folder / "hello.txt").read_bytes()
        b'hi'
    """
    path = Path(path)
    fd, temp_name = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp_name)
        raise
    _fsync_dir(path.parent)


class DiskSaver(BaseSaveHandler):
    """Save checkpoints with :func:`torch.save` into the folder ``dirname``, atomically by default.

    Only the process of rank ``save_on_rank`` touches the folder. Extra keyword arguments go to
    :func:`torch.save`.

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

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Write ``checkpoint`` to ``dirname/filename`` on ``save_on_rank``; with ``wait_all_ranks`` every rank
        then waits at a barrier, so that none goes on (or reads the file) before it is on disk."""
        if get_rank() == self.save_on_rank:
            self._save_func(checkpoint, self.dirname / filename, torch.save)
        if self.wait_all_ranks:
            barrier()

    def _save_func(self, checkpoint: Mapping[str, Any], path: Path, save: Callable[..., None]) -> None:
        if self.atomic:
            atomic_write(path, lambda file: save(checkpoint, file, **self.kwargs))
        else:
            save(checkpoint, path, **self.kwargs)

    def remove(self, filename: str) -> None:
        """Delete ``dirname/filename`` (on ``save_on_rank`` only); a missing file is not an error."""
        if get_rank() != self.save_on_rank:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.dirname / filename).unlink()

    def __repr__(self) -> str:
        return f"DiskSaver(dirname={str(self.dirname)!r}, atomic={self.atomic}, save_on_rank={self.save_on_rank})"
