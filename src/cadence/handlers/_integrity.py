"""Checksums of what a checkpoint wrote, computed while it is written and checked before it is loaded.

A single-file checkpoint is the zip archive that :func:`torch.save` writes, which records a CRC-32 of every
record (computed by ``torch.save`` itself while it writes, unless ``torch.serialization.set_crc32_options(False)``
turned that off): :func:`verify_archive` reads the records back against them. A sharded (DCP) checkpoint
records, per rank, the CRC-32 of each file that rank wrote (:class:`SummingStream` computes it during the
write) in a small ``.checksums.<rank>.json`` file of the checkpoint folder: :func:`verify_files` checks them.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from cadence.exceptions import CorruptCheckpointError

__all__ = ["CHECKSUMS_PREFIX", "SummingStream", "checksums_name", "crc32_of", "verify_archive", "verify_files"]

CHECKSUMS_PREFIX = ".checksums."
_CHUNK = 1 << 22


def checksums_name(rank: int) -> str:
    """The name of the file in which ``rank`` records the checksums of the files it wrote.

    Example:
        >>> checksums_name(3)
        '.checksums.3.json'
    """
    return f"{CHECKSUMS_PREFIX}{rank}.json"


def crc32_of(file: IO[bytes]) -> int:
    """The CRC-32 of what is left to read in ``file``.

    Example:
        >>> import io
        >>> crc32_of(io.BytesIO(b"cadence")) == zlib.crc32(b"cadence")
        True
    """
    crc = 0
    while chunk := file.read(_CHUNK):
        crc = zlib.crc32(chunk, crc)
    return crc


def verify_archive(file: IO[bytes], where: str) -> None:
    """Check every record of the ``torch.save`` archive ``file`` against the CRC-32 the archive holds for it.

    A record whose CRC was not recorded (written with CRC-32 turned off) cannot be checked and is passed;
    a file that is not a zip archive (``torch.save`` of PyTorch before 1.6) has no checksum to check.

    Example:
        >>> import io, torch
        >>> buffer = io.BytesIO()
        >>> torch.save({"w": torch.ones(1000)}, buffer)
        >>> verify_archive(buffer, "model.pt")
        >>> data = bytearray(buffer.getvalue())
        >>> data[len(data) // 2] ^= 0xFF
        >>> verify_archive(io.BytesIO(bytes(data)), "model.pt")
        Traceback (most recent call last):
        ...
        cadence.exceptions.CorruptCheckpointError: Checkpoint 'model.pt' is corrupted: ...
    """
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        return  # not an archive: torch.load decides whether it is readable at all
    with archive:
        for info in archive.infolist():
            if info.CRC == 0 and info.file_size > 0:
                continue
            try:
                with archive.open(info) as record:
                    while record.read(_CHUNK):
                        pass
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise CorruptCheckpointError(
                    f"Checkpoint {where!r} is corrupted: its record {info.filename!r} no longer matches the checksum "
                    f"written with it ({exc}). It was changed after it was written (a bad copy, a disk error); it "
                    "is not loaded."
                ) from None
    file.seek(0)


class SummingStream:
    """A writable stream that passes everything on to ``stream`` and keeps the CRC-32 of what it wrote;
    ``wrote(count)``, if given, is told how many bytes each write passed on.

    A large write is summed on a helper thread while this one writes it (both let go of the GIL), so the
    checksum costs no time where a second core is free; :meth:`finish` (or leaving the ``with`` block) ends
    the helper.

    Example:
        >>> import io
        >>> summing = SummingStream(io.BytesIO())
        >>> summing.write(b"cadence")
        7
        >>> summing.crc == zlib.crc32(b"cadence")
        True
    """

    #: Writes at least this large are summed on the helper thread (smaller ones cost less than the handover).
    parallel_from = 1 << 20

    def __init__(self, stream: Any, *, wrote: Callable[[int], None] | None = None) -> None:
        self._stream = stream
        self._wrote = wrote
        self._helper: ThreadPoolExecutor | None = None
        self.crc = 0

    def write(self, data: Any) -> int:
        """Write ``data`` and add it to the checksum."""
        view = memoryview(data).cast("B")
        summed: Future[int] | None = None
        if len(view) >= self.parallel_from:
            if self._helper is None:
                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadence-crc32")
            summed = self._helper.submit(zlib.crc32, view, self.crc)  # ``data`` stays valid until we return
        try:
            written = self._stream.write(data)
        finally:
            crc = summed.result() if summed is not None else None
        count = len(view) if written is None else int(written)
        self.crc = crc if crc is not None and count == len(view) else zlib.crc32(view[:count], self.crc)
        if self._wrote is not None:
            self._wrote(count)
        return count

    def finish(self) -> None:
        """End the helper thread (if one was started)."""
        if self._helper is not None:
            self._helper.shutdown()
            self._helper = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> SummingStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finish()
        self._stream.close()


def verify_files(
    records: Iterable[Mapping[str, int]], open_file: Callable[[str], IO[bytes]], names: Iterable[str], where: str
) -> None:
    """Check the files ``names`` of a sharded checkpoint against the checksums ``records`` (one mapping of file
    name to CRC-32 per rank); a file no record names was written before checksums were kept and is passed.

    Example:
        >>> import io
        >>> files = {"__0_0.distcp": b"shard"}
        >>> verify_files([{"__0_0.distcp": zlib.crc32(b"shard")}], lambda n: io.BytesIO(files[n]), files, "c.dcp")
        >>> verify_files([{"__0_0.distcp": 1}], lambda n: io.BytesIO(files[n]), files, "c.dcp")
        Traceback (most recent call last):
        ...
        cadence.exceptions.CorruptCheckpointError: Checkpoint 'c.dcp' is corrupted: ...
    """
    expected: dict[str, int] = {}
    for record in records:
        expected.update(record)
    for name in names:
        if name not in expected:
            continue
        with open_file(name) as file:
            crc = crc32_of(file)
        if crc != expected[name]:
            raise CorruptCheckpointError(
                f"Checkpoint {where!r} is corrupted: its file {name!r} no longer matches the checksum written with "
                "it. It was changed after it was written (a bad copy, a disk error); it is not loaded."
            )


def read_record(file: IO[bytes]) -> dict[str, int]:
    """A rank's checksums, as :func:`checksums_name` files hold them."""
    data = json.loads(file.read())
    return {str(name): int(crc) for name, crc in data.items()}
