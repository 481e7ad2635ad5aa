"""From a location (a folder, a file path, a URL such as ``s3://bucket/run``) to the store that reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cadence.handlers._loading import load_mapping
from cadence.handlers._state_tree import check_objects
from cadence.handlers.savers import DiskSaver
from cadence.handlers.storage import CheckpointStore

__all__ = ["is_url", "load_objects", "locate", "saver_at", "store_at"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: object) -> bool:
    """Whether ``location`` is a URL with a scheme (``s3://...``, ``memory://...``) rather than a local path.

    Example:
        >>> is_url("s3://bucket/run"), is_url("runs/demo"), is_url(Path("runs"))
        (True, False, False)
    """
    return isinstance(location, str) and _SCHEME.match(location) is not None


def store_at(location: str | Path | CheckpointStore) -> CheckpointStore:
    """A store that reads the checkpoints at ``location``: a folder on this machine, or any URL that fsspec
    reaches (``file://`` included); a store is returned as it is.

    Example:
        >>> import tempfile
        >>> type(store_at(tempfile.mkdtemp())).__name__
        'DiskSaver'
    """
    if isinstance(location, CheckpointStore):
        return location
    if is_url(location):
        from cadence.handlers.remote import FsspecSaver

        return FsspecSaver.reader(str(location))
    return DiskSaver.reader(location)


def saver_at(location: str | Path, save_on_rank: int = 0) -> CheckpointStore:
    """The store a :class:`~cadence.handlers.Checkpoint` given ``location`` writes to: a :class:`DiskSaver` of a
    folder (created if missing), or a :class:`~cadence.handlers.FsspecSaver` of a URL.

    Example:
        >>> import tempfile
        >>> saver_at(tempfile.mkdtemp())
        DiskSaver(dirname=..., atomic=True, save_on_rank=0)
    """
    if is_url(location):
        from cadence.handlers.remote import FsspecSaver

        return FsspecSaver(str(location), save_on_rank=save_on_rank)
    return DiskSaver(location, create_dir=True, save_on_rank=save_on_rank)


def locate(path: str | Path) -> tuple[CheckpointStore, str]:
    """The store of the folder holding the checkpoint ``path``, and the checkpoint's name in it.

    Example:
        >>> store, name = locate("runs/demo/model_4.pt")
        >>> str(store.location(name)), name
        ('runs/demo/model_4.pt', 'model_4.pt')
    """
    if is_url(path):
        text = str(path).rstrip("/")
        parent, _, name = text.rpartition("/")
        return store_at(parent), name
    path = Path(path)
    return store_at(path.parent), path.name


def load_objects(
    to_load: Mapping[str, Any],
    checkpoint: str | Path | Mapping[str, Any],
    *,
    strict: bool = True,
    weights_only: bool = True,
    map_location: Any = "cpu",
    **module_kwargs: Any,
) -> None:
    """Load each object of ``to_load`` from the same-named entry of ``checkpoint``: a mapping, or the location of
    a checkpoint (a file, a sharded folder, a URL such as ``s3://bucket/run/model_4.pt``).

    ``to_load`` may nest mappings and lists of objects (``{"models": [encoder, decoder]}``); the
    checkpoint must then nest their states the same way. A ``to_load`` of one object also loads from a
    checkpoint that is that object's bare state_dict. ``module_kwargs`` (e.g. ``assign=True``) go to
    :meth:`torch.nn.Module.load_state_dict`.

    A checkpoint read from a location is first checked against the checksums written with it: one whose
    content changed since (a bit flip, a bad copy) raises :class:`~cadence.exceptions.CorruptCheckpointError`.
    Everything is checked first: every name must be in the checkpoint, module entries must have
    exactly the model's keys (``strict``) with the same tensor shapes, optimizer entries the same
    parameter groups. Only then are objects loaded; if one still refuses its state, the objects
    loaded before it are restored, so a failed load leaves everything as it was. Objects need only
    ``load_state_dict`` (as in Ignite); one without ``state_dict`` cannot be restored, so such objects load
    after every object that can, and a failure among them leaves those of them loaded before it changed.
    Extra entries in the checkpoint are ignored, so a model alone can be loaded from a full training
    checkpoint. A DDP-wrapped or compiled (``torch.compile``) model is loaded as the model it wraps; a model
    state whose keys all start with ``_orig_mod.`` (saved from a compiled model by Ignite or an older cadence)
    loads into a model that does not have that prefix.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> state = {"model": {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}}
        >>> load_objects({"model": model}, state)
        >>> model.weight.tolist()
        [[1.0, 1.0]]
    """
    if not isinstance(checkpoint, str | Path | Mapping):
        raise TypeError(
            f"Argument checkpoint should be a string or a dictionary (a file path or a mapping of states), "
            f"got {type(checkpoint).__name__}."
        )
    if not isinstance(to_load, Mapping):
        raise TypeError(f"to_load must be a mapping of names to objects, got {type(to_load).__name__}.")
    check_objects(to_load, "load_state_dict")
    if isinstance(checkpoint, Mapping):
        load_mapping(to_load, checkpoint, strict=strict, **module_kwargs)
        return
    store, name = locate(checkpoint)
    store.load(to_load, name, strict=strict, weights_only=weights_only, map_location=map_location, **module_kwargs)
