"""The checkpoint storage seam: how one checkpoint is written, published, listed, checked, read and removed.

:class:`~cadence.handlers.Checkpoint` decides *when* to save, *what* (the objects' states) and *which*
checkpoints to keep; a :class:`CheckpointStore` owns everything about the medium: the layout of the state
it writes (:meth:`~CheckpointStore.gather`), the write itself (synchronous and in the background), how a
checkpoint is published so that a reader never sees half of one, how complete checkpoints are listed and
told from the leftovers of interrupted saves, how one is checked against its checksums, read and removed.
cadence's stores:

- :class:`~cadence.handlers.DiskSaver`: one :func:`torch.save` file in a folder, published by a rename;
- :class:`~cadence.handlers.ShardedDiskSaver`: a DCP folder written by every rank, published by a rename;
- :class:`~cadence.handlers.FsspecSaver` and :class:`~cadence.handlers.ShardedFsspecSaver`: the same two
  layouts on any fsspec file system (``s3://``, ``gs://``, ``memory://``...), published by a manifest
  written last.

Any other save handler (a callable, an Ignite-style :class:`BaseSaveHandler`) is served through
:class:`HandlerStore`, which writes and removes through it and, since it cannot list or read, gives
neither adoption of an earlier run's checkpoints nor ``reload_objects``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cadence.distributed import get_rank
from cadence.handlers._async_save import BackgroundSaves
from cadence.handlers._fsdp_state import gather_full_states
from cadence.handlers._loading import FORMAT_KEY, format_marker

__all__ = ["BaseSaveHandler", "CheckpointStore", "HandlerStore", "Listing", "cannot_read_message", "store_for"]


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
            >>> from cadence.handlers import DiskSaver
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


class Listing(NamedTuple):
    """What a store holds: the names of its complete checkpoints, and the leftovers of interrupted saves
    (temporary names, see :func:`~cadence.handlers.savers.temporary_target`, or names never published).

    Example:
        >>> Listing(complete=["model_2.pt"], leftovers=[".model_4.pt.0123456789ab.tmp"]).complete
        ['model_2.pt']
    """

    complete: list[str]
    leftovers: list[str]


class CheckpointStore(BaseSaveHandler):
    """A save handler that owns its medium: :class:`~cadence.handlers.Checkpoint` needs nothing else of it.

    A store writes each checkpoint so that it is complete or invisible (published atomically), lists the
    complete ones, checks one against the checksums written with it, reads it into objects, and removes
    it. Subclass it to put checkpoints somewhere new; what is not medium-specific is here.

    Example:
        >>> import tempfile, torch
        >>> from cadence.handlers import DiskSaver
        >>> store = DiskSaver(tempfile.mkdtemp())
        >>> store(store.gather({"model": torch.nn.Linear(2, 1)}), "model_3.pt")
        >>> store.listing().complete
        ['model_3.pt']
        >>> store.load({"model": torch.nn.Linear(2, 1)}, "model_3.pt")
    """

    removes_after_saving = True  # each name is a checkpoint of its own
    #: The extension its layout needs in the names it writes (``{ext}`` in a filename pattern): ``"dcp"`` for a
    #: sharded store; ``None`` leaves it to the checkpoint (``Checkpoint.ext``, ``"pt"``).
    ext: str | None = None
    #: Whether each save is a collective: every rank calls the store, and the saving rank's view of the
    #: medium (its listing) is shared with the others.
    collective: bool = False
    #: The rank that writes (and, for a collective store, publishes and removes).
    save_on_rank: int = 0
    #: Whether it lists and reads back what it wrote (only :class:`HandlerStore` cannot).
    can_read: bool = True

    # ---------------------------------------------------------------- what a checkpoint holds
    def gather(self, objects: Mapping[str, Any], extras: Mapping[str, Any] | None = None) -> Any:
        """The checkpoint to write for ``objects``: one object's bare ``state_dict`` (as Ignite writes it), or
        ``{name: state}``, marked with the layout cadence reads back when it holds several objects. ``extras``
        (the checkpoint's own state, with ``include_self``) join as entries of their own. A collective where
        models are sharded.

        Example:
            >>> import tempfile, torch
            >>> from cadence.handlers import DiskSaver
            >>> sorted(DiskSaver(tempfile.mkdtemp()).gather({"model": torch.nn.Linear(2, 1)}))
            ['bias', 'weight']
        """
        states = gather_full_states(objects, self.save_on_rank)
        if len(states) == 1 and not extras:
            return next(iter(states.values()))
        if len(states) > 1:
            states[FORMAT_KEY] = format_marker()
        return {**states, **gather_full_states(extras or {}, self.save_on_rank)}

    def writes_here(self) -> bool:
        """Whether this process writes (holds data to snapshot for a background save).

        Example:
            >>> import tempfile
            >>> from cadence.handlers import DiskSaver
            >>> DiskSaver(tempfile.mkdtemp()).writes_here()
            True
        """
        return get_rank() == self.save_on_rank

    def background(self) -> BackgroundSaves:
        """The asynchronous side of this store for ``Checkpoint(async_save=True)``.

        Example:
            >>> import tempfile
            >>> from cadence.handlers import DiskSaver
            >>> type(DiskSaver(tempfile.mkdtemp()).background()).__name__
            'BackgroundSaves'
        """
        return BackgroundSaves(self, self.writes_here)

    # ---------------------------------------------------------------- the medium
    @abstractmethod
    def location(self, filename: str) -> str | Path:
        """Where the checkpoint ``filename`` is: a path on a local disk, a URL elsewhere."""

    @abstractmethod
    def listing(self) -> Listing:
        """The complete checkpoints (and leftovers of interrupted saves) of this store; ``Listing([], [])`` when
        its place does not exist yet."""

    @abstractmethod
    def verify(self, filename: str) -> None:
        """Raise ``ValueError`` (:class:`~cadence.exceptions.CorruptCheckpointError` for a checksum mismatch) unless
        ``filename`` is a complete checkpoint whose content matches the checksums written with it."""

    @abstractmethod
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
        """Load ``to_load`` from the checkpoint ``filename`` (checked first, unless ``verified``), all checks
        done before any object changes (see :func:`~cadence.handlers.Checkpoint.load_objects`)."""


def _takes_metadata(save_handler: Any) -> bool:
    if isinstance(save_handler, BaseSaveHandler):
        return True
    try:
        inspect.signature(save_handler).bind({}, "name", {})
    except (TypeError, ValueError):  # ValueError: no signature to inspect; assume the two-argument form
        return False
    return True


class HandlerStore(CheckpointStore):
    """A save handler that is not a :class:`CheckpointStore` (a callable, an Ignite-style handler) served as one.

    It writes through the handler (with ``metadata`` when the handler takes three arguments) and removes
    through its ``remove`` when it has one; it cannot list or read, so a :class:`~cadence.handlers.Checkpoint`
    using it adopts no earlier checkpoint and cannot ``reload_objects``.

    Example:
        >>> saved = {}
        >>> store = HandlerStore(lambda checkpoint, filename: saved.update({filename: checkpoint}))
        >>> store({"w": 1}, "model_1.pt")
        >>> saved, store.location("model_1.pt")
        ({'model_1.pt': {'w': 1}}, 'model_1.pt')
    """

    can_read = False

    def __init__(self, handler: Any, save_on_rank: int = 0) -> None:
        self.handler = handler
        self.save_on_rank = save_on_rank
        # ``is True``: a mock's attributes are all truthy
        self.removes_after_saving = isinstance(handler, BaseSaveHandler) and handler.removes_after_saving is True
        self._takes_metadata = _takes_metadata(handler)

    def gather(self, objects: Mapping[str, Any], extras: Mapping[str, Any] | None = None) -> Any:
        """``{name: state}`` (a single object's bare state), without cadence's layout mark: the handler's own."""
        states = gather_full_states({**objects, **(extras or {})}, self.save_on_rank)
        return next(iter(states.values())) if len(states) == 1 else states

    def writes_here(self) -> bool:
        """Every rank hands its snapshot to the handler, which decides where it writes."""
        return True

    def background(self) -> BackgroundSaves:
        """Background saves through the handler's ``save_in_background`` (refused unless it supports them)."""
        return BackgroundSaves(self.handler)

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Save through the handler."""
        if self._takes_metadata:
            self.handler(checkpoint, filename, metadata)
        else:
            self.handler(checkpoint, filename)

    def remove(self, filename: str) -> None:
        """Remove through the handler's ``remove``, if it has one."""
        remove = getattr(self.handler, "remove", None)
        if callable(remove):
            remove(filename)

    def location(self, filename: str) -> str:
        """The name itself: where the handler put it is its own business."""
        return filename

    def listing(self) -> Listing:
        """Nothing can be listed through a plain handler."""
        return Listing([], [])

    def verify(self, filename: str) -> None:
        """Nothing can be read through a plain handler."""
        self._cannot_read()

    def load(self, to_load: Mapping[str, Any], filename: str, **kwargs: Any) -> None:
        """Nothing can be read through a plain handler."""
        self._cannot_read()

    def _cannot_read(self) -> None:
        raise AttributeError(cannot_read_message(self.handler))


def cannot_read_message(handler: Any) -> str:
    """What is said when checkpoints are to be read back through a save handler that cannot read.

    Example:
        >>> cannot_read_message(print)[:48]
        "Checkpoint's `save_handler` should be of type `D"
    """
    return (
        "Checkpoint's `save_handler` should be of type `DiskSaver` (or another cadence CheckpointStore) to "
        f"reload files by name, given {type(handler)}."
    )


def store_for(save_handler: Any, save_on_rank: int = 0) -> CheckpointStore:
    """The store :class:`~cadence.handlers.Checkpoint` writes through for ``save_handler``.

    Example:
        >>> type(store_for(lambda checkpoint, filename: None)).__name__
        'HandlerStore'
    """
    if isinstance(save_handler, CheckpointStore):
        return save_handler
    return HandlerStore(save_handler, save_on_rank)
