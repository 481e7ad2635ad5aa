"""Checkpoints on any file system that fsspec reaches: object stores (``s3://``, ``gs://``, ``az://``...), ``memory://``,
``file://``: :class:`FsspecSaver` (one :func:`torch.save` file each) and :class:`ShardedFsspecSaver` (DCP folders).

An object store has no rename, so a checkpoint is published by a *manifest* written last: ``<name>`` (the file,
or the folder of a sharded checkpoint) is complete once ``<name>.manifest.json`` exists, and only then does a
listing show it. Removing starts with the manifest. A save killed at any point therefore leaves either the
complete checkpoint or a leftover that :class:`~cadence.handlers.Checkpoint` ignores and removes at its next
run's first save. Re-saving a name that exists (the same step after a resume) drops its manifest first.

Credentials and endpoints come from the file system's usual settings (for S3: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``...), or from ``storage_options``. Needs ``fsspec`` and the
file system's package (``pip install cadence[s3]`` for S3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

import torch

from cadence._version import __version__
from cadence.distributed import barrier, get_rank
from cadence.handlers._loading import check_stream, load_mapping, read_stream
from cadence.handlers.dcp import EXT, Place, ShardedStore, load_place, verify_place
from cadence.handlers.storage import CheckpointStore, Listing

__all__ = ["MANIFEST_SUFFIX", "FsspecPlace", "FsspecSaver", "ShardedFsspecSaver"]

#: The suffix of the manifest that publishes a checkpoint (written last, removed first).
MANIFEST_SUFFIX = ".manifest.json"


def _file_system(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec comes with torch
        raise ImportError(f"Checkpoints at {url!r} need fsspec: pip install fsspec.") from exc
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        raise ImportError(
            f"Checkpoints at {url!r} need the fsspec file system of its scheme ({exc}); for s3:// install "
            "cadence[s3] (s3fs)."
        ) from exc
    except ValueError as exc:
        raise ValueError(f"Cannot put checkpoints at {url!r}: fsspec knows no such file system ({exc}).") from exc
    return fs, str(root).rstrip("/")


class FsspecPlace(Place):
    """A sharded checkpoint's folder on an fsspec file system.

    Example:
        >>> import fsspec
        >>> FsspecPlace(fsspec.filesystem("memory"), "/nothing-here", "memory://nothing-here").files()
        set()
    """

    def __init__(self, fs: Any, path: str, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.fs, self.path, self.where = fs, path, url
        self._options = dict(storage_options or {})

    def writer(self) -> Any:
        """DCP's fsspec writer (no fsync: an object store has none)."""
        from torch.distributed.checkpoint._fsspec_filesystem import FsspecWriter

        return FsspecWriter(self.where, sync_files=False, **self._options)

    def reader(self) -> Any:
        """DCP's fsspec reader."""
        from torch.distributed.checkpoint._fsspec_filesystem import FsspecReader

        return FsspecReader(self.where, **self._options)

    def files(self) -> set[str]:
        """The names of the folder's files."""
        self.fs.invalidate_cache(self.path)
        if not self.fs.exists(self.path):
            return set()
        return {str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in self.fs.ls(self.path, detail=False)}

    def open(self, name: str, mode: str = "rb") -> IO[bytes]:
        """Open one of the folder's files."""
        return self.fs.open(f"{self.path}/{name}", mode)  # type: ignore[no-any-return]


class FsspecSaver(CheckpointStore):
    """Save checkpoints with :func:`torch.save` at ``url`` on any fsspec file system, published by a manifest.

    Only the process of rank ``save_on_rank`` writes. Naming, ``n_saved``, adoption of an earlier run's
    checkpoints, ``async_save``, checksums and :meth:`Checkpoint.resume <cadence.handlers.Checkpoint.resume>`
    work as with a :class:`~cadence.handlers.DiskSaver`. ``Checkpoint(to_save, "s3://bucket/run")`` makes one.

    Args:
        url: where the checkpoints go, e.g. ``s3://bucket/run``.
        require_empty: refuse a place that already holds complete ``.pt`` checkpoints (another run's).
        save_on_rank: the rank that writes.
        wait_all_ranks: after each save, every rank waits at a barrier until it is published.
        storage_options: passed to the fsspec file system (credentials, ``endpoint_url``...).
        kwargs: passed to :func:`torch.save`.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> from cadence.handlers import Checkpoint
        >>> trainer = Engine(lambda e, b: None)
        >>> Checkpoint({"model": torch.nn.Linear(2, 1)}, FsspecSaver("memory://doc/run"))(trainer)
        >>> FsspecSaver.reader("memory://doc/run").listing().complete
        ['model_0.pt']
        >>> Checkpoint.resume({"model": torch.nn.Linear(2, 1)}, "memory://doc/run")
        'memory://doc/run/model_0.pt'
    """

    removes_after_saving = True  # each name is an object of its own

    def __init__(
        self,
        url: str,
        *,
        require_empty: bool = True,
        save_on_rank: int = 0,
        wait_all_ranks: bool = False,
        storage_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a string such as 's3://bucket/run', got {url!r}.")
        if isinstance(save_on_rank, bool) or not isinstance(save_on_rank, int) or save_on_rank < 0:
            raise ValueError(f"save_on_rank must be a non-negative integer, got {save_on_rank!r}.")
        self.url = url.rstrip("/")
        self.save_on_rank = save_on_rank
        self.wait_all_ranks = bool(wait_all_ranks)
        self.storage_options = dict(storage_options or {})
        self.kwargs = kwargs
        self.fs, self.root = _file_system(self.url, self.storage_options)
        if get_rank() == save_on_rank:
            self.fs.makedirs(self.root, exist_ok=True)
            existing = [name for name in self.listing().complete if name.endswith(f".{self.ext or 'pt'}")]
            if require_empty and existing:
                raise ValueError(
                    f"Checkpoints {existing} are already present at {self.url}: another run's. Use another place, "
                    "remove them, or pass require_empty=False to reuse it."
                )

    @classmethod
    def reader(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> FsspecSaver:
        """A store that reads the checkpoints at ``url`` (single files and sharded folders alike), creating nothing.

        Example:
            >>> FsspecSaver.reader("memory://nowhere").listing()
            Listing(complete=[], leftovers=[])
        """
        store = cls.__new__(cls)
        store.url, store.save_on_rank, store.wait_all_ranks, store.kwargs = url.rstrip("/"), 0, False, {}
        store.storage_options = dict(storage_options or {})
        store.fs, store.root = _file_system(store.url, store.storage_options)
        return store

    # ---------------------------------------------------------------- names on the medium
    def _path(self, filename: str) -> str:
        return f"{self.root}/{filename}"

    def location(self, filename: str) -> str:
        """The URL of ``filename``."""
        return f"{self.url}/{filename}"

    def _manifest(self, filename: str) -> dict[str, Any] | None:
        try:
            with self.fs.open(self._path(filename) + MANIFEST_SUFFIX, "rb") as file:
                manifest = json.loads(file.read())
        except FileNotFoundError:
            return None
        return manifest if isinstance(manifest, dict) else None

    def _unpublish(self, filename: str) -> None:
        manifest = self._path(filename) + MANIFEST_SUFFIX
        if self.fs.exists(manifest):
            self.fs.rm(manifest)

    def _publish(self, filename: str, kind: str) -> None:
        manifest = {"checkpoint": filename, "kind": kind, "written_by": f"cadence {__version__}"}
        self.fs.pipe(self._path(filename) + MANIFEST_SUFFIX, json.dumps(manifest).encode())

    # ---------------------------------------------------------------- writing
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Write ``checkpoint`` as ``filename`` on ``save_on_rank``, then its manifest; with ``wait_all_ranks``
        every rank then waits at a barrier."""
        if get_rank() == self.save_on_rank:
            self._write(checkpoint, filename)
        if self.wait_all_ranks:
            barrier()

    def _write(self, checkpoint: Mapping[str, Any], filename: str) -> None:
        self._unpublish(filename)
        try:
            with self.fs.open(self._path(filename), "wb") as file:
                torch.save(checkpoint, file, **self.kwargs)
        except OSError as exc:
            raise OSError(exc.errno, f"Cannot write checkpoint {self.location(filename)!r}: {exc}") from exc
        self._publish(filename, "file")

    @property
    def supports_async_save(self) -> bool:
        """``True``: the snapshot is written on a writer thread."""
        return True

    def save_in_background(
        self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Write ``checkpoint`` as :meth:`__call__` does, on a writer thread, without the barrier."""
        if get_rank() == self.save_on_rank:
            self._write(checkpoint, filename)

    def after_background_save(self, filename: str) -> None:
        """With ``wait_all_ranks``, every rank waits at a barrier, as after a synchronous save."""
        if self.wait_all_ranks:
            barrier()

    def remove(self, filename: str) -> None:
        """Remove ``filename`` (its manifest first, so that it never looks complete), on ``save_on_rank``."""
        if get_rank() != self.save_on_rank:
            return
        self._unpublish(filename)
        path = self._path(filename)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    # ---------------------------------------------------------------- reading
    def listing(self) -> Listing:
        """The published checkpoints, and the names that no manifest publishes (interrupted saves, other files)."""
        self.fs.invalidate_cache(self.root)
        if not self.fs.exists(self.root):
            return Listing([], [])
        names = {str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in self.fs.ls(self.root, detail=False)}
        published = {name[: -len(MANIFEST_SUFFIX)] for name in names if name.endswith(MANIFEST_SUFFIX)}
        complete = sorted(published & names)
        leftovers = sorted(name for name in names - published if not name.endswith(MANIFEST_SUFFIX))
        return Listing(complete, leftovers)

    def _kind(self, filename: str) -> str:
        manifest = self._manifest(filename)
        if manifest is None:
            if self.fs.exists(self._path(filename)):
                raise ValueError(
                    f"Checkpoint {self.location(filename)!r} is not complete: it has no manifest "
                    f"({filename}{MANIFEST_SUFFIX}), which is written last; its save was interrupted."
                )
            raise FileNotFoundError(f"Checkpoint {self.location(filename)!r} does not exist.")
        return str(manifest.get("kind", "file"))

    def place(self, filename: str) -> FsspecPlace:
        """The folder of the sharded checkpoint ``filename``."""
        return FsspecPlace(self.fs, self._path(filename), self.location(filename), self.storage_options)

    def verify(self, filename: str) -> None:
        """Check that ``filename`` is published and matches the checksums written with it."""
        if self._kind(filename) == EXT:
            verify_place(self.place(filename))
            return
        with self.fs.open(self._path(filename), "rb") as file:
            check_stream(file, self.location(filename))

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
        """Load ``to_load`` from ``filename`` (a sharded one: a collective), checked first unless ``verified``."""
        if self._kind(filename) == EXT:
            if not verified:
                verify_place(self.place(filename))
            load_place(to_load, self.place(filename), strict=strict, weights_only=weights_only)
            return
        where = self.location(filename)
        with self.fs.open(self._path(filename), "rb") as file:
            checkpoint = read_stream(
                file, where, weights_only=weights_only, map_location=map_location, verified=verified
            )
        load_mapping(to_load, checkpoint, source=f" from {where!r}", strict=strict, **module_kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, save_on_rank={self.save_on_rank})"


class ShardedFsspecSaver(ShardedStore, FsspecSaver):
    """Write each checkpoint as a sharded DCP folder ``<url>/<name>.dcp`` on any fsspec file system, every rank
    writing its shards; published by a manifest once every rank's files and the metadata are written.

    As :class:`~cadence.handlers.ShardedDiskSaver` (attach the checkpoint on every rank: a save is a
    collective; loading reshards to any world size), on an object store.

    Example:
        >>> import torch
        >>> from cadence import Engine
        >>> from cadence.handlers import Checkpoint
        >>> trainer = Engine(lambda e, b: None)
        >>> Checkpoint({"model": torch.nn.Linear(2, 1)}, ShardedFsspecSaver("memory://doc/sharded"))(trainer)
        >>> Checkpoint.resume({"model": torch.nn.Linear(2, 1)}, "memory://doc/sharded")
        'memory://doc/sharded/model_0.dcp'
    """

    ext = EXT
    removes_after_saving = True  # each name is a folder of its own

    def __init__(
        self,
        url: str,
        *,
        require_empty: bool = True,
        save_on_rank: int = 0,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        FsspecSaver.__init__(
            self,
            url,
            require_empty=require_empty,
            save_on_rank=save_on_rank,
            wait_all_ranks=True,
            storage_options=storage_options,
        )
        barrier()

    def place(self, filename: str) -> FsspecPlace:
        """The folder of the checkpoint ``filename``."""
        return FsspecSaver.place(self, filename)

    def begin(self, filename: str) -> FsspecPlace:
        """Unpublish ``filename`` and empty its folder of an interrupted save's files (a collective)."""
        if get_rank() == self.save_on_rank:
            self._unpublish(filename)
            path = self._path(filename)
            if self.fs.exists(path):
                self.fs.rm(path, recursive=True)
        barrier()
        return self.place(filename)

    def publish(self, place: Place, filename: str) -> None:
        """Write the manifest of ``filename``: its folder is complete."""
        self._publish(filename, EXT)

    def __repr__(self) -> str:
        return f"ShardedFsspecSaver(url={self.url!r}, save_on_rank={self.save_on_rank})"
