"""Where checkpoints go: the save-handler protocol, atomic file writes and :class:`DiskSaver`."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from cadence.distributed import barrier, get_rank

__all__ = ["BaseSaveHandler", "DiskSaver", "atomic_write", "fsync_dir", "is_complete", "temporary_target"]

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{12}" + re.escape(TEMP_SUFFIX))


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

    #: Whether :class:`~cadence.handlers.Checkpoint` may write a new checkpoint *before* it removes the one the
    #: new one displaces, so that a complete checkpoint always exists. Only a handler that stores each
    #: name as its own file can allow that; any other one gets Ignite's order (the displaced one is removed
    #: first), which a handler that writes several names to one file needs. cadence's savers say ``True``;
    #: a subclass that overrides ``__call__`` or ``remove`` is back to ``False`` unless it says otherwise.
    removes_after_saving: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overrides = "__call__" in vars(cls) or "remove" in vars(cls)
        if overrides and "removes_after_saving" not in vars(cls):
            cls.removes_after_saving = False  # its names may no longer be files of their own

    @abstractmethod
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Save ``checkpoint`` under ``filename``."""

    @abstractmethod
    def remove(self, filename: str) -> None:
        """Delete the checkpoint saved under ``filename``."""

    # The protocol of Checkpoint(async_save=True): it snapshots the state on the loop's thread, then calls
    # save_in_background on its writer thread and, once that returned, remove for the files it displaces.
    @property
    def supports_async_save(self) -> bool:
        """Whether :meth:`save_in_background` works: ``False`` here; a handler that implements it says ``True``
        (a class attribute ``supports_async_save = True`` will do).

        Example:
            >>> import tempfile
            >>> DiskSaver(tempfile.mkdtemp()).supports_async_save
            True
        """
        return False

    def save_in_background(
        self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Save ``checkpoint``, a snapshot that nothing else touches, under ``filename`` on a checkpoint's writer
        thread. The loop goes on meanwhile (and may be in a collective): run no collective here, do that in
        :meth:`after_background_save`. A crash during the write must leave earlier checkpoints intact.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot save in the background: implement save_in_background and set "
            "supports_async_save = True, or use Checkpoint(async_save=False)."
        )

    def after_background_save(self, filename: str) -> None:
        """Called on the loop's thread of every process once the background save of ``filename`` is complete,
        at the same point of the run in all (the next save, :meth:`Checkpoint.wait` or the run's end): the
        place for a barrier. Nothing by default."""
        return


def fsync_dir(dirname: Path) -> None:
    """Make a rename durable: fsync the folder (not possible, nor needed, on Windows).

    Example:
        >>> import tempfile
        >>> fsync_dir(Path(tempfile.mkdtemp()))
    """
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


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a checkpoint file, or a sharded checkpoint folder with its ``.metadata`` (see
    :class:`~cadence.handlers.sharded.ShardedDiskSaver`).

    Example:
        >>> import tempfile
        >>> is_complete(Path(tempfile.mkdtemp()))
        False
    """
    return path.is_file() or (path / ".metadata").is_file()


def temporary_target(name: str) -> str | None:
    """The file that the temporary file ``name`` of :func:`atomic_write` was to become, or ``None`` when ``name``
    is not such a temporary file (one left behind is what a save killed before its rename leaves).

    Example:
        >>> temporary_target(".model_4.pt.0123456789ab.tmp"), temporary_target("model_4.pt")
        ('model_4.pt', None)
    """
    match = _TEMP_NAME.fullmatch(name)
    return match["target"] if match else None


class _FdWriter(io.RawIOBase):
    """Writes to a file descriptor through ``os.write``, keeping the first ``OSError`` it met: ``torch.save``
    reports a failed write as a position mismatch, and the cause (a full disk) would otherwise be lost."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return os.write(self.fd, data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def close(self) -> None:
        if not self.closed:
            super().close()
            os.close(self.fd)


_HINTS = {
    errno.ENOSPC: "free some space or save elsewhere",
    errno.EDQUOT: "free some space or save elsewhere",
    errno.EROFS: "save to a writable folder",
    errno.EACCES: "save to a folder you may write to",
    errno.EPERM: "save to a folder you may write to",
}


def _write_error(path: Path, exc: BaseException, writer: _FdWriter | None, atomic: bool) -> OSError | None:
    """An ``OSError`` naming ``path`` and the cause in words, if writing failed in the file system."""
    cause = writer.error if writer is not None and writer.error is not None else exc
    if not isinstance(cause, OSError) or cause.errno is None:
        return None
    words = os.strerror(cause.errno)
    outcome = "no partial file was left" if atomic else f"{path.name} may be incomplete (written in place)"
    return OSError(
        cause.errno,
        f"Cannot write checkpoint {str(path)!r}: {words[:1].lower() + words[1:]} "
        f"({_HINTS.get(cause.errno, 'check the folder')}); {outcome}, earlier checkpoints are intact",
    )


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that it is either complete or absent: ``write(file)`` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over ``path``; the folder is fsynced too.
    If ``write`` raises, the temporary file is removed and ``path`` is left as it was. A file-system
    error (no space left, read-only folder) is raised as an ``OSError`` naming ``path`` and the cause.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> atomic_write(folder / "hello.txt", lambda f: f.write(b"hi"))
        >>> (folder / "hello.txt").read_bytes()
        b'hi'
    """
    _write_file(Path(path), write, atomic=True)


def _write_file(path: Path, write: Callable[[IO[bytes]], None], *, atomic: bool) -> None:
    writer: _FdWriter | None = None
    temp_name: str | None = None
    try:
        if atomic:
            fd, temp_name = _create_temp(path)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
        writer = _FdWriter(fd)
        with io.BufferedWriter(writer, buffer_size=1 << 20) as file:
            write(file)
            file.flush()
            os.fsync(writer.fd)
        if temp_name is not None:
            os.replace(temp_name, path)
    except BaseException as exc:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.remove(temp_name)
        error = _write_error(path, exc, writer, atomic) if isinstance(exc, Exception) else None
        if error is not None:
            raise error from exc
        raise
    if atomic:
        fsync_dir(path.parent)


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
        _write_file(path, lambda file: save(checkpoint, file, **self.kwargs), atomic=self.atomic)

    def remove(self, filename: str) -> None:
        """Delete ``dirname/filename`` (on ``save_on_rank`` only); a missing file is not an error."""
        if get_rank() != self.save_on_rank:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.dirname / filename).unlink()

    def __repr__(self) -> str:
        return f"DiskSaver(dirname={str(self.dirname)!r}, atomic={self.atomic}, save_on_rank={self.save_on_rank})"
