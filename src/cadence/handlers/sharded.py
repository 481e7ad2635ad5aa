"""Sharded checkpoints through ``torch.distributed.checkpoint`` (DCP): every rank writes its own shards.

A :class:`ShardedDiskSaver` given to :class:`~cadence.handlers.checkpoint.Checkpoint` makes each checkpoint
a folder ``<name>.dcp``: the models and their optimizers are saved with DCP's ``get_model_state_dict`` /
``get_optimizer_state_dict`` (each rank writes the shards it holds, a replicated tensor is written once),
and every other object (engine, schedulers, metrics...) as one entry written by ``save_on_rank``. Loading
reshards: a checkpoint written by N ranks loads on M ranks, into FSDP2-sharded models or plain ones.

The folder is written under a temporary name and published by a rename once DCP has written every rank's
files and the metadata, so a folder named ``*.dcp`` with a ``.metadata`` file is always complete.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cadence.distributed import barrier, get_rank, get_world_size, is_distributed
from cadence.exceptions import CheckpointMismatchError
from cadence.handlers._async_save import BackgroundSaves
from cadence.handlers._fsdp_state import optimizer_owners
from cadence.handlers._state_tree import check_objects, leaves, unwrap
from cadence.handlers.savers import TEMP_SUFFIX, DiskSaver, fsync_dir

__all__ = [
    "ShardedBackgroundSaves",
    "ShardedDiskSaver",
    "blob",
    "load_sharded",
    "read_metadata",
    "sharded_state",
]

EXT = "dcp"
_METADATA = ".metadata"


@contextlib.contextmanager
def _quiet_in_one_process() -> Iterator[None]:
    """DCP warns that it assumes one process when there is no process group: that is what we mean."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
        yield


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


class ShardedDiskSaver(DiskSaver):
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

    sharded = True
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
        super().__init__(dirname, True, create_dir, require_empty, save_on_rank, wait_all_ranks=True)
        barrier()  # the folder exists before any rank writes into it

    def _check_and_setup(self, create_dir: bool, require_empty: bool) -> None:
        super()._check_and_setup(create_dir, False)
        existing = sorted(p.name for p in self.dirname.iterdir() if p.suffix == f".{EXT}")
        if require_empty and existing:
            raise ValueError(
                f"Checkpoints {existing} are already present in the directory {self.dirname}: another run's. "
                "Use another folder, remove them, or pass require_empty=False to reuse it."
            )

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Write ``checkpoint`` (a :func:`sharded_state`) to ``dirname/filename`` on every rank; publish it."""
        from torch.distributed.checkpoint.filesystem import FileSystemWriter
        from torch.distributed.checkpoint.state_dict_saver import save

        temporary = self._prepare(filename)
        try:
            with _quiet_in_one_process():
                save(dict(checkpoint), storage_writer=FileSystemWriter(temporary, sync_files=True))
        except OSError as exc:
            raise self._write_error(filename, exc) from exc
        barrier()  # every rank's files and the metadata are written
        self._publish(temporary, filename)
        barrier()

    def _prepare(self, filename: str) -> Path:
        """The temporary folder of ``filename``'s save, emptied of an interrupted save's files (a collective)."""
        temporary = self.dirname / f".{filename}.{hashlib.sha1(filename.encode()).hexdigest()[:12]}{TEMP_SUFFIX}"
        if get_rank() == self.save_on_rank:
            shutil.rmtree(temporary, ignore_errors=True)
        barrier()
        return temporary

    def _publish(self, temporary: Path, filename: str) -> None:
        """On ``save_on_rank``, rename the complete ``temporary`` folder to ``filename`` (replacing any such)."""
        if get_rank() != self.save_on_rank:
            return
        final = self.dirname / filename
        if final.exists():
            self._discard(final)
        os.replace(temporary, final)
        fsync_dir(self.dirname)

    def _write_error(self, filename: str, exc: OSError) -> OSError:
        return OSError(exc.errno, f"Cannot write the sharded checkpoint {str(self.dirname / filename)!r}: {exc}")

    @property
    def supports_async_save(self) -> bool:
        """``True``: with ``Checkpoint(..., async_save=True)`` the state is staged in CPU memory and written by
        ``torch.distributed.checkpoint.async_save`` while the loop goes on."""
        return True

    def _discard(self, path: Path) -> None:
        """Delete a checkpoint folder: first renamed (so it no longer looks complete), then removed."""
        doomed = path.with_name(f".{path.name}.{os.urandom(6).hex()}{TEMP_SUFFIX}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def remove(self, filename: str) -> None:
        """Delete the checkpoint folder (or a leftover temporary one) ``dirname/filename``, on ``save_on_rank``."""
        if get_rank() != self.save_on_rank:
            return
        path = self.dirname / filename
        if path.is_dir():
            self._discard(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def __repr__(self) -> str:
        return f"ShardedDiskSaver(dirname={str(self.dirname)!r}, save_on_rank={self.save_on_rank})"


class ShardedBackgroundSaves(BackgroundSaves):
    """``async_save`` for a :class:`ShardedDiskSaver`: ``torch.distributed.checkpoint.async_save`` stages the
    state in CPU memory on the loop's thread, then every rank writes its shards in the background, on a gloo
    process group of its own (so that the writes never interleave with the loop's collectives). The folder is
    published once every rank has written its files; its completion and errors are taken up by ``finish()``.

    Example:
        >>> import tempfile, os, torch
        >>> saves = ShardedBackgroundSaves(ShardedDiskSaver(tempfile.mkdtemp()))
        >>> saves.start("engine", {"model": {"w": torch.ones(2)}}, "model_1.dcp", {}, then=lambda: None)
        >>> saves.finish(), os.listdir(saves.save_handler.dirname)
        ('engine', ['model_1.dcp'])
    """

    save_handler: ShardedDiskSaver

    def __init__(self, save_handler: ShardedDiskSaver) -> None:
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
        from torch.distributed.checkpoint.filesystem import FileSystemWriter
        from torch.distributed.checkpoint.state_dict_saver import async_save

        saver = self.save_handler
        temporary = saver._prepare(filename)
        writer = FileSystemWriter(temporary, sync_files=True)
        with _quiet_in_one_process():
            response = async_save(
                dict(checkpoint), storage_writer=writer, process_group=self._group, async_stager=self._stager
            )
        staged = getattr(response, "staging_completion", None)
        if staged is not None:
            staged.result()  # the loop may change the tensors once they are copied
        written: Future[Any] = response if isinstance(response, Future) else response.upload_completion
        group = self._group

        def job() -> None:
            try:
                written.result()
            except OSError as exc:
                raise saver._write_error(filename, exc) from exc
            if group is not None:
                import torch.distributed as torch_dist

                torch_dist.barrier(group=group)  # every rank's files and the metadata are written
            saver._publish(temporary, filename)
            then()

        self._writer.submit(job)
        self._pending = (owner, filename)


def read_metadata(path: Path) -> Any:
    """The DCP metadata of the sharded checkpoint ``path``; an error names a missing folder, an unreadable
    ``.metadata`` or a missing shard file.

    Example:
        >>> import tempfile
        >>> read_metadata(Path(tempfile.mkdtemp()))
        Traceback (most recent call last):
        ...
        ValueError: Cannot read sharded checkpoint ...: its .metadata file is missing or corrupted ...
    """
    from torch.distributed.checkpoint.filesystem import FileSystemReader

    if not path.is_dir():
        raise FileNotFoundError(f"Sharded checkpoint {str(path)!r} does not exist (or is not a folder).")
    try:
        metadata = FileSystemReader(path).read_metadata()
    except Exception as exc:
        raise ValueError(
            f"Cannot read sharded checkpoint {str(path)!r}: its {_METADATA} file is missing or corrupted "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    missing = sorted({info.relative_path for info in metadata.storage_data.values()} - {p.name for p in path.iterdir()})
    if missing:
        raise ValueError(
            f"Sharded checkpoint {str(path)!r} is incomplete: the files {missing} that its {_METADATA} lists are "
            "missing (each rank writes its own; copy the whole folder from every machine)."
        )
    return metadata


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


def load_sharded(
    to_load: Mapping[str, Any], path: str | Path, *, strict: bool = True, weights_only: bool = True
) -> None:
    """Load ``to_load`` from the sharded checkpoint folder ``path``, on any number of ranks (a collective).

    Everything is checked against the checkpoint's metadata first (names, shapes, missing files); only then
    are the objects loaded. Models may be FSDP2-sharded or plain, whatever wrote the checkpoint.
    ``weights_only=False`` unpickles any object in the non-tensor entries (only for checkpoints you trust).

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
    from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )
    from torch.distributed.checkpoint.state_dict_loader import load

    check_objects(to_load, "load_state_dict")
    path = Path(path)
    metadata = read_metadata(path)
    tensors, blobs, owners = _templates(to_load)
    problems = _problems(tensors, blobs, metadata, strict)
    if problems:
        raise CheckpointMismatchError(
            f"Cannot load checkpoint from {str(path)!r}, nothing was changed: " + "; ".join(problems) + "."
        )
    objects = dict(leaves(to_load, "load_state_dict"))
    snapshots: list[tuple[Any, Any]] = []
    try:
        if blobs:
            with _quiet_in_one_process():
                load(blobs, checkpoint_id=path, planner=DefaultLoadPlanner(allow_partial_load=True))
            for key, buffer in blobs.items():
                buffer.seek(0)
                state = torch.load(buffer, map_location="cpu", weights_only=weights_only)
                target = unwrap(objects[key])
                snapshots.append((target, copy.deepcopy(target.state_dict())))
                target.load_state_dict(state)
        if tensors:
            with _quiet_in_one_process():
                load(tensors, checkpoint_id=path, planner=DefaultLoadPlanner(allow_partial_load=not strict))
    except Exception as exc:
        for target, old in reversed(snapshots):
            target.load_state_dict(old)
        raise CheckpointMismatchError(f"Cannot load checkpoint from {str(path)!r} ({exc}).") from exc
    options = StateDictOptions(strict=strict)
    for key, state in tensors.items():
        target = unwrap(objects[key])
        if isinstance(target, nn.Module):
            set_model_state_dict(target, state, options=options)
        else:
            set_optimizer_state_dict(owners[id(target)], target, state, options=options)
