"""Sharded checkpoints in DCP's layout (``torch.distributed.checkpoint``), on any medium.

Every rank writes the shards it holds; models and their optimizers are saved with DCP's
``get_model_state_dict`` / ``get_optimizer_state_dict`` (a replicated tensor is written once) and every other
object (engine, schedulers, metrics...) as one entry written by the saving rank. Loading reshards: a checkpoint
written by N ranks loads on M ranks, into FSDP2-sharded models or plain ones. Each rank records the CRC-32 of
the files it wrote (``.checksums.<rank>.json``), checked before a load.

:class:`ShardedStore` is what the sharded stores share; a medium (a local folder, an fsspec file system)
gives it a :class:`Place` for each checkpoint: where DCP writes and reads it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import IO, Any

import torch
from torch import nn

from cadence.distributed import barrier, get_rank, get_world_size, is_distributed
from cadence.exceptions import CheckpointMismatchError, CorruptCheckpointError
from cadence.handlers._async_save import BackgroundSaves
from cadence.handlers._files import Writeback
from cadence.handlers._fsdp_state import optimizer_owners
from cadence.handlers._integrity import CHECKSUMS_PREFIX, SummingStream, checksums_name, read_record, verify_files
from cadence.handlers._state_tree import check_objects, leaves, unwrap
from cadence.handlers.storage import CheckpointStore

__all__ = [
    "EXT",
    "Place",
    "ShardedBackgroundSaves",
    "ShardedStore",
    "blob",
    "load_place",
    "read_place",
    "sharded_state",
    "verify_place",
]

EXT = "dcp"
METADATA = ".metadata"
_ONE_PROCESS = "torch.distributed is disabled, unavailable or uninitialized"


class _OneProcessQuiet:
    """Silences DCP's "torch.distributed is disabled ... assuming ... a single process" warning while cadence
    saves or loads in one process without a process group (that is what it means), and only then.

    ``warnings.catch_warnings`` does not do it: DCP's background save warns on DCP's own thread, after the call
    that started it has returned; ``catch_warnings`` swaps the whole list of filters in and out, undoing what
    another thread changed meanwhile; and each swap counts as a change of the filters, after which Python shows
    again any warning it had shown once (DCP's, at every save). Here a single ignore entry is put at the front
    of the filters while a save or load is under way, and that entry alone is taken out after the last one.
    Neither step counts as a change: a warning that the entry ignores is not recorded as shown.

    Example:
        >>> import warnings
        >>> quiet = _OneProcessQuiet()
        >>> with quiet():
        ...     warnings.warn("torch.distributed is disabled, unavailable or uninitialized, assuming ...")
    """

    _ENTRY = ("ignore", re.compile(re.escape(_ONE_PROCESS), re.I), UserWarning, None, 0)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0

    def begin(self) -> None:
        """A save or load in one process starts."""
        with self._lock:
            self._users += 1
            if self._users == 1:
                warnings.filters.insert(0, self._ENTRY)  # type: ignore[attr-defined]  # a documented list

    def end(self) -> None:
        """One that :meth:`begin` announced is over (its warning, if any, has been given)."""
        with self._lock:
            self._users -= 1
            if self._users == 0:
                with contextlib.suppress(ValueError):  # another thread's catch_warnings took it out already
                    warnings.filters.remove(self._ENTRY)  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.end()


_quiet_in_one_process = _OneProcessQuiet()


def blob(state: Any) -> io.BytesIO:
    """One DCP entry for a whole non-tensor state (DCP would otherwise split it into one entry per leaf).

    Example:
        >>> torch.load(blob({"iteration": 3}))
        {'iteration': 3}
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


def _owner_of(target: Any, owners: Mapping[int, nn.Module]) -> nn.Module | None:
    return owners.get(id(target)) if isinstance(target, torch.optim.Optimizer) else None


def sharded_state(to_save: Mapping[str, Any], save_on_rank: int) -> dict[str, Any]:
    """The state DCP saves for ``to_save``: flat, keyed by each object's path in ``to_save``.

    Models hold their (sharded) tensors, optimizers of a model in ``to_save`` their state keyed by
    parameter names; any other object is one entry, present on ``save_on_rank`` only. A collective.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> state = sharded_state({"model": model, "step": torch.optim.SGD(model.parameters(), lr=0.1)}, 0)
        >>> sorted(state["model"]), sorted(state["step"])
        (['bias', 'weight'], ['param_groups', 'state'])
    """
    state: dict[str, Any] = {}
    for path, target, tensors in _by_kind(to_save, "state_dict", optimizer_owners(to_save)):
        if tensors is not None:
            state[path] = tensors
        elif get_rank() == save_on_rank:
            state[path] = blob(target.state_dict())
    return state


def _by_kind(tree: Mapping[str, Any], method: str, owners: Mapping[int, nn.Module]) -> Iterator[tuple[str, Any, Any]]:
    """``(path, object, DCP state)`` for each object of ``tree``: the (sharded) state of a model, or of an
    optimizer of a model in ``tree`` (keyed by parameter names); ``None`` for any other object."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    for path, obj in leaves(tree, method):
        target = unwrap(obj)
        owner = _owner_of(target, owners)
        if isinstance(target, nn.Module):
            yield path, target, get_model_state_dict(target)
        elif owner is not None:
            yield path, target, get_optimizer_state_dict(owner, target)
        else:
            yield path, target, None


class Place(ABC):
    """Where one sharded checkpoint is, on some medium: DCP's storage writer and reader for it, its files.

    Example:
        >>> import tempfile
        >>> from cadence.handlers.savers import DiskPlace
        >>> DiskPlace(tempfile.mkdtemp()).files()
        set()
    """

    #: How errors name it (a path, a URL).
    where: str

    @abstractmethod
    def writer(self) -> Any:
        """A DCP ``StorageWriter`` that writes into this place."""

    @abstractmethod
    def reader(self) -> Any:
        """A DCP ``StorageReader`` that reads from this place."""

    @abstractmethod
    def files(self) -> set[str]:
        """The names of the files in this place (an empty set when it does not exist)."""

    @abstractmethod
    def open(self, name: str, mode: str = "rb") -> IO[bytes]:
        """Open the file ``name`` of this place."""


class _Checksummed:
    """A DCP file system whose streams sum what they write: ``crcs`` maps each data file written to its CRC-32."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs
        self.crcs: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def create_stream(self, path: Any, mode: str) -> Iterator[Any]:
        with self._fs.create_stream(path, mode) as stream:
            summing = SummingStream(stream, wrote=_writeback(stream))
            try:
                yield summing
            finally:
                summing.finish()
        name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
        if name.endswith(".distcp"):
            with self._lock:
                self.crcs[name] = summing.crc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)


def _local_fd(stream: Any) -> int | None:
    """The file descriptor of a local file's stream; ``None`` for another (an fsspec one)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return fd if isinstance(fd, int) else None


def _writeback(stream: Any) -> Callable[[int], None] | None:
    """What starts the disk writing a local file as it grows (see :class:`~cadence.handlers._files.Writeback`);
    ``None`` for a stream that is not a local file."""
    fd = _local_fd(stream)
    return None if fd is None else Writeback(fd).wrote


def _summing_writer(place: Place) -> tuple[Any, _Checksummed]:
    writer = place.writer()
    checksummed = _Checksummed(writer.fs)
    writer.fs = checksummed
    return writer, checksummed


def _record_checksums(place: Place, checksummed: _Checksummed) -> None:
    with place.open(checksums_name(get_rank()), "wb") as file:
        file.write(json.dumps(checksummed.crcs, sort_keys=True).encode())
        fd = _local_fd(file)
        if fd is None:
            return  # not a local file: its medium makes it durable when it is closed
        file.flush()
        os.fsync(fd)  # on disk before the folder is published, as DCP's own files are


class ShardedStore(CheckpointStore):
    """What the sharded stores share: the DCP layout, its synchronous and background writes, checks and loads.

    A medium implements :meth:`place` (where a checkpoint is), :meth:`begin` (a fresh temporary place for a save,
    a collective), :meth:`publish` (make a written place the checkpoint ``filename``, on the saving rank) and the
    rest of :class:`~cadence.handlers.storage.CheckpointStore`'s medium methods.

    Example:
        >>> import tempfile, torch
        >>> from cadence.handlers import ShardedDiskSaver
        >>> store = ShardedDiskSaver(tempfile.mkdtemp())
        >>> store(store.gather({"model": torch.nn.Linear(2, 1)}), "model_1.dcp")
        >>> store.verify("model_1.dcp")
    """

    ext = EXT
    collective = True
    removes_after_saving = True  # each name is a checkpoint of its own

    def gather(self, objects: Mapping[str, Any], extras: Mapping[str, Any] | None = None) -> Any:
        """The flat DCP state of ``objects`` and ``extras`` (see :func:`sharded_state`); a collective."""
        return sharded_state({**objects, **(extras or {})}, self.save_on_rank)

    @abstractmethod
    def place(self, filename: str) -> Place:
        """Where the published checkpoint ``filename`` is."""

    @abstractmethod
    def begin(self, filename: str) -> Place:
        """A fresh temporary place for a save of ``filename`` (a collective: every rank gets the same one)."""

    @abstractmethod
    def publish(self, place: Place, filename: str) -> None:
        """On the saving rank, make the written ``place`` the checkpoint ``filename``, replacing any such."""

    def write_error(self, filename: str, exc: OSError) -> OSError:
        """The error of a failed write, naming the checkpoint."""
        return OSError(exc.errno, f"Cannot write the sharded checkpoint {str(self.location(filename))!r}: {exc}")

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Write ``checkpoint`` (a :func:`sharded_state`) as ``filename`` on every rank, then publish it."""
        from torch.distributed.checkpoint.state_dict_saver import save

        place = self.begin(filename)
        writer, checksummed = _summing_writer(place)
        try:
            with _quiet_in_one_process():
                save(dict(checkpoint), storage_writer=writer)
            _record_checksums(place, checksummed)
        except OSError as exc:
            raise self.write_error(filename, exc) from exc
        barrier()  # every rank's files and the metadata are written
        if get_rank() == self.save_on_rank:
            self.publish(place, filename)
        barrier()

    @property
    def supports_async_save(self) -> bool:
        """``True``: with ``Checkpoint(..., async_save=True)`` the state is staged in CPU memory and written by
        ``torch.distributed.checkpoint.async_save`` while the loop goes on."""
        return True

    def background(self) -> BackgroundSaves:
        """DCP's own background saves (see :class:`ShardedBackgroundSaves`)."""
        return ShardedBackgroundSaves(self)

    def verify(self, filename: str) -> None:
        """Check ``filename`` (see :func:`verify_place`); a collective when distributed."""
        verify_place(self.place(filename))

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
        """Load ``to_load`` from the sharded checkpoint ``filename`` (see :func:`load_place`); a collective."""
        if not verified:
            self.verify(filename)
        load_place(to_load, self.place(filename), strict=strict, weights_only=weights_only)


class ShardedBackgroundSaves(BackgroundSaves):
    """``async_save`` for a :class:`ShardedStore`: ``torch.distributed.checkpoint.async_save`` stages the
    state in CPU memory on the loop's thread, then every rank writes its shards in the background, on a gloo
    process group of its own (so that the writes never interleave with the loop's collectives). The folder is
    published once every rank has written its files; its completion and errors are taken up by ``finish()``.

    Example:
        >>> import tempfile, os, torch
        >>> from cadence.handlers import ShardedDiskSaver
        >>> saves = ShardedBackgroundSaves(ShardedDiskSaver(tempfile.mkdtemp()))
        >>> saves.start("engine", {"model": {"w": torch.ones(2)}}, "model_1.dcp", {}, then=lambda: None)
        >>> saves.finish(), os.listdir(saves.save_handler.dirname)
        ('engine', ['model_1.dcp'])
    """

    save_handler: ShardedStore

    def __init__(self, save_handler: ShardedStore) -> None:
        super().__init__(save_handler)
        self._group: Any = None
        self._stager: Any = None
        with contextlib.suppress(ImportError):  # one stager for the run: its CPU buffers are reused by each save
            from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions

            pinned = torch.cuda.is_available()
            self._stager = DefaultStager(StagingOptions(pinned, False, False, False))
        if is_distributed():  # a collective: Checkpoint is built on every rank
            import torch.distributed as torch_dist

            self._group = torch_dist.new_group(backend="gloo")

    def start(self, owner: Any, checkpoint: Any, filename: str, metadata: Any, *, then: Callable[[], None]) -> None:
        """Stage ``checkpoint`` and write it in the background; ``then()`` runs once it is published."""
        from torch.distributed.checkpoint.state_dict_saver import async_save

        saver = self.save_handler
        place = saver.begin(filename)
        writer, checksummed = _summing_writer(place)
        _quiet_in_one_process.begin()  # DCP warns on its own thread as its write starts: ended once it is done
        try:
            response = async_save(
                dict(checkpoint), storage_writer=writer, process_group=self._group, async_stager=self._stager
            )
            staged = getattr(response, "staging_completion", None)
            if staged is not None:
                staged.result()  # the loop may change the tensors once they are copied
        except BaseException:
            _quiet_in_one_process.end()
            raise
        written: Future[Any] = response if isinstance(response, Future) else response.upload_completion
        group = self._group

        def job() -> None:
            try:
                try:
                    written.result()
                finally:
                    _quiet_in_one_process.end()
                _record_checksums(place, checksummed)
            except OSError as exc:
                raise saver.write_error(filename, exc) from exc
            if group is not None:
                import torch.distributed as torch_dist

                torch_dist.barrier(group=group)  # every rank's files and the metadata are written
            if get_rank() == saver.save_on_rank:
                saver.publish(place, filename)
            then()

        self._writer.submit(job)
        self._pending = (owner, filename)


def verify_place(place: Place) -> None:
    """Check that the sharded checkpoint at ``place`` is complete (its metadata and every file it lists) and that
    each file matches the checksum its rank recorded. A collective when distributed: each rank checks a share
    of the files, and all raise if one found a mismatch.

    Example:
        >>> import tempfile, torch
        >>> from cadence.handlers import ShardedDiskSaver
        >>> store = ShardedDiskSaver(tempfile.mkdtemp())
        >>> store(store.gather({"model": torch.nn.Linear(2, 1)}), "model_1.dcp")
        >>> verify_place(store.place("model_1.dcp"))
    """
    names = read_place(place)[1]
    records = []
    for name in sorted(names):
        if name.startswith(CHECKSUMS_PREFIX):
            with place.open(name) as file:
                records.append(read_record(file))
    data = sorted(name for name in names if name.endswith(".distcp"))
    error = ""
    try:
        verify_files(records, place.open, data[get_rank() :: get_world_size()], place.where)
    except ValueError as exc:
        error = str(exc)
    if is_distributed():
        import torch.distributed as torch_dist

        errors: list[Any] = [None] * get_world_size()
        torch_dist.all_gather_object(errors, error)
        error = next((e for e in errors if e), "")
    if error:
        raise CorruptCheckpointError(error)


def read_place(place: Place) -> tuple[Any, set[str]]:
    """The DCP metadata of the sharded checkpoint at ``place`` and the names of its files; an error names a
    missing checkpoint, an unreadable ``.metadata`` or a missing shard file.

    Example:
        >>> import tempfile
        >>> from cadence.handlers.savers import DiskPlace
        >>> read_place(DiskPlace(tempfile.mkdtemp()))
        Traceback (most recent call last):
        ...
        ValueError: Cannot read sharded checkpoint ...: its .metadata file is missing or corrupted ...
    """
    names = place.files()
    try:
        metadata = place.reader().read_metadata()
    except Exception as exc:
        raise ValueError(
            f"Cannot read sharded checkpoint {place.where!r}: its {METADATA} file is missing or corrupted "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    missing = sorted({info.relative_path for info in metadata.storage_data.values()} - names)
    if missing:
        raise ValueError(
            f"Sharded checkpoint {place.where!r} is incomplete: the files {missing} that its {METADATA} lists are "
            "missing (each rank writes its own; copy the whole folder from every machine)."
        )
    return metadata, names


def _templates(to_load: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[int, nn.Module]]:
    """What DCP loads into: (the models' and optimizers' states, placeholders for the other objects, owners)."""
    owners = optimizer_owners(to_load, "load_state_dict")
    tensors: dict[str, Any] = {}
    blobs: dict[str, Any] = {}
    for path, _, state in _by_kind(to_load, "load_state_dict", owners):
        if state is not None:
            tensors[path] = state
        else:
            blobs[path] = io.BytesIO()
    return tensors, blobs, owners


def _tensor_keys(tree: Any, prefix: str) -> dict[str, torch.Tensor]:
    """DCP's flat keys (``a.b.0.c``) of the tensors in a state tree (DCP walks mappings and lists to them)."""
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, Mapping):
        return {k: v for key, value in tree.items() for k, v in _tensor_keys(value, f"{prefix}.{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, value in enumerate(tree) for k, v in _tensor_keys(value, f"{prefix}.{i}").items()}
    return {}


def _problems(tensors: Mapping[str, Any], blobs: Mapping[str, Any], metadata: Any, strict: bool) -> list[str]:
    """What keeps ``to_load`` from loading: entries missing, saved otherwise, tensors missing or of other shapes."""
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata, TensorStorageMetadata

    stored = metadata.state_dict_metadata
    problems = []
    for path in blobs:
        if not isinstance(stored.get(path), BytesStorageMetadata):
            held = sorted({key.split(".", 1)[0] for key in stored})
            problems.append(f"{path!r} is not in the checkpoint, which holds {held}")
    for path, state in tensors.items():
        if isinstance(stored.get(path), BytesStorageMetadata):
            problems.append(
                f"{path!r} was saved as a plain state (without its model in the checkpoint): load it with a "
                "to_load that leaves its model out too"
            )
            continue
        if not any(key.startswith(f"{path}.") for key in stored):
            problems.append(f"{path!r} is not in the checkpoint")
            continue
        expected = _tensor_keys(state, path)
        saved = {k: v for k, v in stored.items() if k.startswith(f"{path}.") and isinstance(v, TensorStorageMetadata)}
        missing = sorted(set(expected) - set(saved))
        unexpected = sorted(set(saved) - set(expected))
        if missing and strict:
            problems.append(f"{path!r} misses {', '.join(k[len(path) + 1 :] for k in missing[:5])}")
        if unexpected and strict:
            problems.append(f"{path!r} has unexpected {', '.join(k[len(path) + 1 :] for k in unexpected[:5])}")
        for key in sorted(set(expected) & set(saved)):
            shapes = tuple(saved[key].size), tuple(expected[key].shape)
            if shapes[0] != shapes[1]:
                problems.append(
                    f"{key[len(path) + 1 :]!r} of {path!r} has shape {shapes[0]} in the checkpoint, {shapes[1]} here"
                )
    return problems


def load_place(to_load: Mapping[str, Any], place: Place, *, strict: bool = True, weights_only: bool = True) -> None:
    """Load ``to_load`` from the sharded checkpoint at ``place``, on any number of ranks (a collective).

    Everything is checked against the checkpoint's metadata first (names, shapes, missing files); only then
    are the objects loaded. Models may be FSDP2-sharded or plain, whatever wrote the checkpoint.
    ``weights_only=False`` unpickles any object in the non-tensor entries (only for checkpoints you trust).

    Example:
        >>> import tempfile, torch
        >>> from cadence import Engine
        >>> from cadence.handlers import Checkpoint, ShardedDiskSaver
        >>> store = ShardedDiskSaver(tempfile.mkdtemp())
        >>> Checkpoint({"model": torch.nn.Linear(2, 1)}, store)(Engine(lambda e, b: None))
        >>> load_place({"model": torch.nn.Linear(3, 1)}, store.place("model_0.dcp"))
        Traceback (most recent call last):
        ...
        cadence.exceptions.CheckpointMismatchError: Cannot load checkpoint from ...: 'weight' of 'model' \
has shape (1, 2) in the checkpoint, (1, 3) here.
    """
    from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )
    from torch.distributed.checkpoint.state_dict_loader import load

    check_objects(to_load, "load_state_dict")
    path = place.where
    metadata = read_place(place)[0]
    tensors, blobs, owners = _templates(to_load)
    problems = _problems(tensors, blobs, metadata, strict)
    if problems:
        raise CheckpointMismatchError(
            f"Cannot load checkpoint from {path!r}, nothing was changed: " + "; ".join(problems) + "."
        )
    objects = dict(leaves(to_load, "load_state_dict"))
    snapshots: list[tuple[Any, Any]] = []
    try:
        if blobs:
            with _quiet_in_one_process():
                load(blobs, storage_reader=place.reader(), planner=DefaultLoadPlanner(allow_partial_load=True))
            for key, buffer in blobs.items():
                buffer.seek(0)
                state = torch.load(buffer, map_location="cpu", weights_only=weights_only)
                target = unwrap(objects[key])
                snapshots.append((target, copy.deepcopy(target.state_dict())))
                target.load_state_dict(state)
        if tensors:
            with _quiet_in_one_process():
                load(tensors, storage_reader=place.reader(), planner=DefaultLoadPlanner(allow_partial_load=not strict))
    except Exception as exc:
        for target, old in reversed(snapshots):
            target.load_state_dict(old)
        raise CheckpointMismatchError(f"Cannot load checkpoint from {path!r} ({exc}).") from exc
    options = StateDictOptions(strict=strict)
    for key, state in tensors.items():
        target = unwrap(objects[key])
        if isinstance(target, nn.Module):
            set_model_state_dict(target, state, options=options)
        else:
            set_optimizer_state_dict(owners[id(target)], target, state, options=options)
