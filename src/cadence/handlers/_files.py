"""Files that are complete or absent: atomic writes through a temporary file, an fsync and a rename."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import io
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "TEMP_SUFFIX",
    "Writeback",
    "atomic_write",
    "fsync_dir",
    "temporary_name",
    "temporary_target",
    "write_file",
]

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{12}" + re.escape(TEMP_SUFFIX))


def temporary_name(name: str) -> str:
    """A fresh name for a temporary file (or folder) that is to become ``name`` (see :func:`temporary_target`).

    Example:
        >>> temporary_target(temporary_name("model_4.pt"))
        'model_4.pt'
    """
    return f".{name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"


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
        temp_name = str(path.parent / temporary_name(path.name))
        try:
            return os.open(
                temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            ), temp_name
        except FileExistsError:
            continue
    raise FileExistsError(f"Could not create a temporary file beside {str(path)!r}.")


def temporary_target(name: str) -> str | None:
    """The file that the temporary file ``name`` of :func:`atomic_write` was to become, or ``None`` when ``name``
    is not such a temporary file (one left behind is what a save killed before its rename leaves).

    Example:
        >>> temporary_target(".model_4.pt.0123456789ab.tmp"), temporary_target("model_4.pt")
        ('model_4.pt', None)
    """
    match = _TEMP_NAME.fullmatch(name)
    return match["target"] if match else None


_SYNC_FILE_RANGE_WRITE = 2  # Linux: start writing the range's dirty pages, do not wait


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` (which :mod:`os` does not offer), or ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


class Writeback:
    """Has the disk start writing a file while it is still being written: every ``step`` bytes, the pages
    written so far go to the disk without waiting for them (Linux's ``sync_file_range``; nothing elsewhere).

    Without it the kernel holds a checkpoint's pages in memory until the final fsync (or until a tenth of
    the memory is dirty), so a save pays the serialization (and ``torch.save``'s CRC-32s) and then the whole
    disk write, one after the other; with it the two overlap and the fsync waits only for the tail.

    Example:
        >>> import tempfile
        >>> fd, name = tempfile.mkstemp()
        >>> writeback = Writeback(fd, step=4)
        >>> writeback.wrote(os.write(fd, b"cadence"))
        >>> os.close(fd), os.remove(name)
        (None, None)
    """

    #: Bytes between two starts, unless ``step`` says otherwise: large enough that the calls cost nothing, small
    #: enough that the disk starts early.
    default_step = 32 << 20

    def __init__(self, fd: int, *, step: int | None = None) -> None:
        self.fd = fd
        self.step = self.default_step if step is None else step
        self._pending = 0
        self._start = _sync_file_range()

    def wrote(self, count: int) -> None:
        """Note that ``count`` more bytes were written; start their writeback once ``step`` bytes are pending."""
        self._pending += count
        if self._pending < self.step or self._start is None:
            return
        self._pending = 0
        # From offset 0 to the end (length 0): pages already written or under writeback are skipped by the kernel.
        # A failure is left to the fsync that follows, which reports write errors.
        self._start(self.fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


class _FdWriter(io.RawIOBase):
    """Writes to a file descriptor through ``os.write``, keeping the first ``OSError`` it met: ``torch.save``
    reports a failed write as a position mismatch, and the cause (a full disk) would otherwise be lost. The
    disk starts writing as the file grows (:class:`Writeback`)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.error: OSError | None = None
        self._writeback = Writeback(fd)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            written = os.write(self.fd, data)
        except OSError as exc:
            self.error = self.error or exc
            raise
        self._writeback.wrote(written)
        return written

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
    write_file(Path(path), write, atomic=True)


def write_file(path: Path, write: Callable[[IO[bytes]], None], *, atomic: bool) -> None:
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
