"""Checkpoints: save named stateful objects on any event, keep the last or best ``n``, load them back.

Ignite's path for these names is :mod:`cadence.handlers.checkpoint`, which also serves
:class:`~cadence.handlers.model_checkpoint.ModelCheckpoint` (built on :class:`Checkpoint`).

:class:`Checkpoint` is a handler: attached to an event, it saves ``{name: obj.state_dict()}`` through
a save handler (by default a :class:`~cadence.handlers.savers.DiskSaver`, which writes atomically) and
removes the oldest or worst file only after the new one is written. :meth:`Checkpoint.load_objects`
checks every key and tensor shape before it changes any object.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import torch

from cadence.engine import CallableEventWithFilter, Engine, EventEnum, Events
from cadence.handlers._async_save import BackgroundSaves
from cadence.handlers._discovery import load_latest
from cadence.handlers._loading import read_checkpoint
from cadence.handlers._locations import load_objects, saver_at
from cadence.handlers._naming import (
    GlobalStepTransform,
    Naming,
    check_filename_pattern,
    default_filename_pattern,
    format_score,
)
from cadence.handlers._retention import Item as SavedItem
from cadence.handlers._retention import find_own, merge, plan_retention, ranks_among_kept
from cadence.handlers._state_tree import check_objects
from cadence.handlers.storage import CheckpointStore, cannot_read_message, store_for

__all__ = ["HAVE_ZERO", "Checkpoint", "CheckpointEvents"]

ScoreFunction = Callable[[Engine[Any]], float]
SaveHandler = Callable[..., None]
#: Whether this PyTorch has ``ZeroRedundancyOptimizer``, whose sharded state is gathered on the saving rank.
HAVE_ZERO = torch.distributed.is_available()


class CheckpointEvents(EventEnum):
    """Events a :class:`Checkpoint` fires on the engine it serves: ``SAVED_CHECKPOINT`` after each saved file.

    Example:
        >>> import tempfile, torch
        >>> trainer = Engine(lambda e, b: None)
        >>> checkpoint = Checkpoint({"model": torch.nn.Linear(2, 1)}, tempfile.mkdtemp())
        >>> trainer.register_events(*CheckpointEvents)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
        >>> _ = trainer.on(CheckpointEvents.SAVED_CHECKPOINT)(lambda e: print("saved at", e.state.iteration))
        >>> _ = trainer.run([0, 0], max_epochs=2)
        saved at 2
        saved at 4
    """

    SAVED_CHECKPOINT = "saved_checkpoint"


class Checkpoint:
    """Save the objects in ``to_save`` each time the handler fires; keep the ``n_saved`` best files.

    Files are named ``{filename_prefix}_{name}_{global_step}_{score_name}={score}.pt`` (parts left out
    when not given), where ``name`` is the only key of ``to_save`` or ``"checkpoint"``. The global step
    is the engine's iteration, or ``global_step_transform(engine, event)`` (e.g.
    :func:`~cadence.handlers.global_step_from_engine`). Without a ``score_function`` the files are ranked by
    global step; with one, by score (higher is better). After each save the engine fires
    :attr:`CheckpointEvents.SAVED_CHECKPOINT`. Attached to ``EXCEPTION_RAISED``, it saves on a crash.

    cadence's savers write the new file before they remove the one it displaces, so a complete checkpoint
    always exists; any other save handler gets Ignite's order, the displaced file removed first (see
    :attr:`BaseSaveHandler.removes_after_saving`).

    Retention holds across restarts: at its first save, a checkpoint writing to a cadence store (a
    :class:`~cadence.handlers.storage.CheckpointStore`: a folder, a :class:`DiskSaver`, an ``s3://`` URL...) counts
    the checkpoints of its own naming already there (an earlier run's, ranked by the step or score in
    their names) among the ``n_saved`` it keeps, and removes the temporary files of saves that a crash
    interrupted. Files of other names are never touched.

    Args:
        to_save: named objects with ``state_dict()``, possibly nested in mappings and lists; a DDP-wrapped
            or compiled (``torch.compile``) model is saved as the model it wraps, so that its checkpoint loads
            into the model compiled or not.
        save_handler: a folder (str/Path, made into a :class:`DiskSaver`), a URL that fsspec reaches
            (``s3://bucket/run``, made into a :class:`~cadence.handlers.FsspecSaver`), a :class:`BaseSaveHandler`
            or a callable ``(checkpoint, filename[, metadata])``.
        score_function: ``fn(engine) -> number``; ``score_name`` alone means ``engine.state.metrics[score_name]``.
        n_saved: how many files to keep (``None``: all).
        filename_pattern: a ``str.format`` pattern with ``{filename_prefix}``, ``{name}``, ``{global_step}``,
            ``{score_name}``, ``{score}`` and ``{ext}``.
        include_self: also save this handler's own state under ``"checkpointer"``.
        greater_or_equal: a score equal to the worst kept one replaces it.
        save_on_rank: the rank that writes, when ``save_handler`` is a folder.
        async_save: copy the state to CPU memory on the loop's thread and write the file on a writer
            thread while the loop goes on (see :meth:`wait`); needs a save handler that supports it
            (a folder or a :class:`DiskSaver`).

    Example:
        >>> import tempfile, torch
        >>> model = torch.nn.Linear(2, 1)
        >>> trainer = Engine(lambda e, b: None)
        >>> checkpoint = Checkpoint({"model": model}, tempfile.mkdtemp(), n_saved=2)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
        >>> _ = trainer.run([0, 0], max_epochs=3)
        >>> [item.filename for item in checkpoint.saved]
        ['model_4.pt', 'model_6.pt']
        >>> checkpoint.last_checkpoint.name
        'model_6.pt'
    """

    Item = SavedItem
    SAVED_CHECKPOINT = CheckpointEvents.SAVED_CHECKPOINT
    ext = "pt"

    def __init__(
        self,
        to_save: Mapping[str, Any],
        save_handler: str | Path | SaveHandler,
        filename_prefix: str = "",
        score_function: ScoreFunction | None = None,
        score_name: str | None = None,
        n_saved: int | None = 1,
        global_step_transform: GlobalStepTransform | None = None,
        filename_pattern: str | None = None,
        include_self: bool = False,
        greater_or_equal: bool = False,
        save_on_rank: int = 0,
        *,
        async_save: bool = False,
    ) -> None:
        self._check_to_save(to_save, include_self)
        if not (isinstance(save_handler, str | Path) or callable(save_handler)):
            raise TypeError(
                "Argument `save_handler` should be a string or Path object or callable or inherit from "
                f"BaseSaveHandler (a folder, or fn(checkpoint, filename[, metadata])), "
                f"got {type(save_handler).__name__}."
            )
        if global_step_transform is not None and not callable(global_step_transform):
            raise TypeError(f"global_step_transform should be a function, got {type(global_step_transform).__name__}.")
        if score_function is not None and not callable(score_function):
            raise TypeError(f"score_function should be a function fn(engine) -> number, got {score_function!r}.")
        if n_saved is not None and (isinstance(n_saved, bool) or not isinstance(n_saved, int) or n_saved < 1):
            raise ValueError(f"n_saved must be a positive integer or None (keep all), got {n_saved!r}.")
        if filename_pattern is not None:
            check_filename_pattern(filename_pattern)
        if not isinstance(filename_prefix, str) and (
            filename_pattern is None or "{filename_prefix" in filename_pattern
        ):
            raise TypeError(f"filename_prefix must be a string, got {filename_prefix!r}.")
        if not isinstance(async_save, bool):
            raise TypeError(f"async_save should be True or False, got {async_save!r}.")
        if score_function is None and score_name is not None:
            score_function = self.get_default_score_fn(score_name)
        self.to_save: Mapping[str, Any] = to_save
        if isinstance(save_handler, str | Path):
            save_handler = saver_at(save_handler, save_on_rank)
        self.save_on_rank = save_on_rank
        self.save_handler = save_handler
        self._background: BackgroundSaves | None = self._store.background() if async_save else None
        self.filename_prefix = filename_prefix
        self.score_function = score_function
        self.score_name = score_name
        self.n_saved = n_saved
        self.global_step_transform = global_step_transform
        self.filename_pattern = filename_pattern
        self.include_self = include_self
        self.greater_or_equal = greater_or_equal
        self._saved: list[SavedItem] = []
        self._scanned_folder = False  # the files an earlier run left are adopted once, at the first save
        self._adopted: set[str] = set()
        self._warned_outranked = False

    @property
    def save_handler(self) -> SaveHandler:
        """Where checkpoints go: the save handler given (a folder given becomes its :class:`DiskSaver`). It may be
        replaced; the checkpoint then writes through the new one."""
        return self._save_handler

    @save_handler.setter
    def save_handler(self, save_handler: SaveHandler) -> None:
        self._save_handler = save_handler
        self._store: CheckpointStore = store_for(save_handler, self.save_on_rank)
        self.ext = self._store.ext or type(self).ext  # a store whose layout has its own extension (DCP) says it

    @staticmethod
    def _check_to_save(to_save: object, include_self: bool) -> None:
        if not isinstance(to_save, Mapping):
            raise TypeError(
                f"Argument `to_save` should be a dictionary of names to objects, but given {type(to_save).__name__}."
            )
        for name in to_save:
            if not isinstance(name, str):
                raise TypeError(f"to_save keys must be strings, got {name!r}.")
        check_objects(to_save, "state_dict")
        if include_self:
            if not isinstance(to_save, MutableMapping):
                raise TypeError(
                    f"If `include_self` is True, then `to_save` must be mutable, but given {type(to_save).__name__}."
                )
            if "checkpointer" in to_save:
                raise ValueError(
                    f"Cannot have key 'checkpointer' if `include_self` is True: that name is taken (to_save has "
                    f"{sorted(to_save)})."
                )

    # ------------------------------------------------------------------ saving
    def __call__(self, engine: Engine[Any], *event_args: Any) -> None:
        """Save now if the new file ranks among the ``n_saved`` best; then drop the file it displaces.

        ``event_args`` (the exception, on ``EXCEPTION_RAISED``) are ignored.
        """
        if not engine.has_registered_events(CheckpointEvents.SAVED_CHECKPOINT):
            engine.register_events(*CheckpointEvents)
        if self._background is not None:
            self.wait()  # at most one save in flight; its error comes out here
        global_step = None
        if self.global_step_transform is not None:
            global_step = self.global_step_transform(engine, self._current_event(engine))
        if self.score_function is not None:
            priority = self.score_function(engine)
            if isinstance(priority, bool) or not isinstance(priority, numbers.Real):
                raise ValueError(
                    f"Output of score_function should be a number, got {priority!r} ({type(priority).__name__}); "
                    "return e.g. engine.state.metrics['accuracy'] (use .item() on a tensor)."
                )
        else:
            if global_step is None:
                global_step = engine.state.iteration
            priority = global_step
        if not self._scanned_folder:
            self._adopt(isinstance(priority, numbers.Integral))
        if not ranks_among_kept(self._saved, priority, self.n_saved, self.greater_or_equal):
            self._warn_if_outranked_by_adopted(priority)
            return
        name = self._name()
        filename = self._filename(name, global_step, priority)
        displaced, kept = plan_retention(self._saved, filename, self.n_saved)
        new_saved = sorted([*kept, SavedItem(priority, filename)], key=lambda item: item.priority)
        extras = {"checkpointer": _KeptList(new_saved)} if self.include_self else None
        checkpoint = self._store.gather(self.to_save, extras)
        metadata = {"basename": self._basename(name), "score_name": self.score_name, "priority": priority}
        complete = self._completion(new_saved, displaced)
        if self._background is not None:
            self._background.start(engine, checkpoint, filename, metadata, then=complete)
            if not engine.has_event_handler(self.wait, Events.COMPLETED):
                engine.add_event_handler(Events.COMPLETED, self.wait)  # a run ends with its checkpoints complete
            if self._current_event(engine) in (Events.COMPLETED, Events.EXCEPTION_RAISED):
                self.wait()  # nothing is left to overlap the write with
            return
        if not self._store.removes_after_saving:  # Ignite's order: the displaced go first
            self._completion(kept, displaced)()
            complete = self._completion(new_saved, [])
        self._store(checkpoint, filename, metadata)
        complete()  # only now: a failed save leaves the kept files and the list as they were
        engine.fire_event(CheckpointEvents.SAVED_CHECKPOINT)

    def _completion(self, new_saved: list[SavedItem], displaced: list[SavedItem]) -> Callable[[], None]:
        """What follows a complete file (on the writer thread with ``async_save``): keep it, drop the displaced."""

        def complete() -> None:
            self._saved = new_saved  # one assignment: readers see the old list or the new one
            for item in displaced:
                self._store.remove(item.filename)

        return complete

    def wait(self) -> None:
        """With ``async_save``, wait for the save in flight, raise its error, or fire ``SAVED_CHECKPOINT`` for it.

        Each save does this first, and so does the run's end (``COMPLETED``). Nothing to do when synchronous.

        Example:
            >>> import tempfile, torch
            >>> trainer = Engine(lambda e, b: None)
            >>> checkpoint = Checkpoint({"model": torch.nn.Linear(2, 1)}, tempfile.mkdtemp(), async_save=True)
            >>> checkpoint(trainer)
            >>> checkpoint.wait()
            >>> checkpoint.last_checkpoint.name
            'model_0.pt'
        """
        if self._background is None:
            return
        engine = self._background.finish()
        if engine is not None:
            engine.fire_event(CheckpointEvents.SAVED_CHECKPOINT)

    def _current_event(self, engine: Engine[Any]) -> CallableEventWithFilter | str:
        """The event this call serves: ``engine.last_event_name`` where the engine records it, else the
        event this handler is attached to (an iteration-counted one when attached to several)."""
        last = engine.last_event_name
        if last is not None:
            return last
        attached = [key for key in engine.state.event_to_attr if engine.has_event_handler(self, key)]
        by_iteration = [key for key in attached if engine.state.event_to_attr[key] == "iteration"]
        key = (by_iteration or attached or [Events.ITERATION_COMPLETED.value])[0]
        try:
            return Events(key)
        except ValueError:
            return key

    def _name(self) -> str:
        """The ``{name}`` of the files: the only key of ``to_save``, else ``"checkpoint"``."""
        return next(iter(self.to_save)) if len(self.to_save) == 1 else "checkpoint"

    def _basename(self, name: str) -> str:
        return f"{self.filename_prefix}_{name}" if self.filename_prefix else name

    def _pattern(self, with_global_step: bool) -> str:
        return self.filename_pattern or default_filename_pattern(
            with_prefix=bool(self.filename_prefix),
            with_score=self.score_function is not None,
            with_score_name=self.score_name is not None,
            with_global_step=with_global_step,
        )

    def _naming(self, with_global_step: bool, name: str | None = None, *, integer_scores: bool = False) -> Naming:
        """This checkpoint's names: the one authority that formats them and reads them back."""
        fields = {
            "filename_prefix": self.filename_prefix,
            "name": self._name() if name is None else name,
            "score_name": self.score_name,
            "ext": self.ext,
        }
        return Naming(self._pattern(with_global_step), fields, integer_scores=integer_scores)

    def _filename(self, name: str, global_step: int | None, priority: float) -> str:
        score = format_score(priority) if self.score_function is not None else None
        return self._naming(global_step is not None, name).format(global_step=global_step, score=score)

    def _adopt(self, integer_scores: bool) -> None:
        """Count the checkpoints of this one's naming that the store already holds (an earlier run's) among the
        kept ones, and remove the leftovers of its interrupted saves (see :func:`find_own`)."""
        self._scanned_folder = True
        with_step = self.global_step_transform is not None or self.score_function is None
        naming = self._naming(with_step, integer_scores=integer_scores)
        priority_field = "score" if self.score_function is not None else "global_step"
        if naming.regex is None or priority_field not in naming.regex.groupindex:
            return  # names that cannot be read back, or that lack what checkpoints are ranked by
        found = find_own(self._store, naming, priority_field)
        if found:
            self._adopted = {item.filename for item in found} - {item.filename for item in self._saved}
            self._saved = merge(self._saved, found)

    def _warn_if_outranked_by_adopted(self, priority: float) -> None:
        outranking = [item.filename for item in self._saved if item.filename in self._adopted]
        if outranking and not self._warned_outranked:
            self._warned_outranked = True
            warnings.warn(
                f"Checkpoint not saved: its {'score' if self.score_function else 'step'} {priority} does not rank "
                f"among the {self.n_saved} kept, which include files an earlier run left in the folder "
                f"({', '.join(outranking)}). Move them away, or use another folder, to keep this run's checkpoints.",
                stacklevel=3,
            )

    @staticmethod
    def setup_filename_pattern(
        with_prefix: bool = True, with_score: bool = True, with_score_name: bool = True, with_global_step: bool = True
    ) -> str:
        """Return the default filename pattern for the parts that are present.

        Example:
            >>> Checkpoint.setup_filename_pattern(with_score=False, with_score_name=False)
            '{filename_prefix}_{name}_{global_step}.{ext}'
        """
        return default_filename_pattern(with_prefix, with_score, with_score_name, with_global_step)

    @staticmethod
    def get_default_score_fn(metric_name: str, score_sign: float = 1.0) -> ScoreFunction:
        """Return ``fn(engine) = score_sign * engine.state.metrics[metric_name]`` (use ``-1`` for a loss).

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> engine.state.metrics["loss"] = 0.25
            >>> Checkpoint.get_default_score_fn("loss", -1.0)(engine)
            -0.25
        """
        if score_sign not in (1.0, -1.0):
            raise ValueError(f"Argument score_sign should be 1 or -1, got {score_sign!r}.")

        def score(engine: Engine[Any]) -> float:
            try:
                value = engine.state.metrics[metric_name]
            except KeyError:
                raise KeyError(
                    f"Metric {metric_name!r} is not in engine.state.metrics (has {sorted(engine.state.metrics)}); "
                    "attach it to the engine whose metrics the checkpoint scores."
                ) from None
            return score_sign * value  # type: ignore[no-any-return]  # metrics hold user values

        return score

    # ------------------------------------------------------------------ state and queries
    @property
    def saved(self) -> list[SavedItem]:
        """The kept files, worst first (a copy)."""
        return list(self._saved)

    @property
    def last_checkpoint(self) -> str | Path | None:
        """The best (or latest, without a score) kept checkpoint: a path for a :class:`DiskSaver`, a URL for a
        store elsewhere, else its name."""
        if not self._saved:
            return None
        return self._store.location(self._saved[-1].filename)

    def reset(self) -> None:
        """Forget the kept files (they stay on disk); the next save starts a new list."""
        if self._background is not None:
            self._background.join()
        self._saved = []

    def state_dict(self) -> dict[str, Any]:
        """Return the list of kept files as ``{"_saved": [(priority, filename), ...]}``.

        Example:
            >>> checkpoint = Checkpoint({}, lambda checkpoint, filename: None)
            >>> checkpoint.state_dict()
            {'_saved': []}
        """
        return {"_saved": [(item.priority, item.filename) for item in self._saved]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the list of kept files saved by :meth:`state_dict`, so retention goes on across restarts.

        Example:
            >>> checkpoint = Checkpoint({}, lambda checkpoint, filename: None)
            >>> checkpoint.load_state_dict({"_saved": [(3, "model_3.pt")]})
            >>> checkpoint.saved
            [Item(priority=3, filename='model_3.pt')]
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"_saved"}:
            raise ValueError(
                f"Checkpoint state_dict must be {{'_saved': [(priority, filename), ...]}}, got {state_dict!r}."
            )
        if self._background is not None:
            self._background.join()
        items = []
        for entry in state_dict["_saved"]:
            if not (isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[1], str)):
                raise ValueError(f"Each saved entry must be a (priority, filename) pair, got {entry!r}.")
            items.append(SavedItem(entry[0], entry[1]))
        self._saved = sorted(items, key=lambda item: item.priority)

    @staticmethod
    def resume(
        to_load: Mapping[str, Any],
        dirname: str | Path | CheckpointStore,
        *,
        filename_prefix: str = "",
        filename_pattern: str | None = None,
        strict: bool = True,
    ) -> Path | str | None:
        """Load the newest readable checkpoint in ``dirname`` into ``to_load``; return its location, or ``None``.

        ``dirname`` is a folder, a URL that fsspec reaches (``s3://bucket/run``) or a store. Checkpoints saved
        with a custom ``filename_pattern`` are ordered by the step their names hold when it is given.

        Newest is the highest step (see :func:`~cadence.handlers.checkpoint.checkpoints_by_recency`), never the
        latest file time.
        ``None`` (nothing loaded) means a fresh start: the folder is missing or holds no checkpoint.
        A checkpoint that cannot be read (cut short by a crash), or whose content no longer matches the
        checksums written with it (a bit flip, a bad copy), is skipped with a warning and the one before it
        is used. A readable checkpoint that does not fit ``to_load`` (other
        model, missing keys, other shapes) raises ``ValueError`` and nothing is changed: falling back
        would silently resume another run. Load an engine in ``to_load`` and the next
        ``engine.run(data)`` continues from the checkpoint's iteration.

        Example:
            >>> import tempfile, torch
            >>> from cadence import Engine, Events
            >>> folder = tempfile.mkdtemp()
            >>> model, trainer = torch.nn.Linear(2, 1), Engine(lambda e, b: None)
            >>> to_save = {"model": model, "trainer": trainer}
            >>> _ = trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), Checkpoint(to_save, folder))
            >>> _ = trainer.on(Events.ITERATION_COMPLETED(once=5))(lambda e: e.terminate())
            >>> _ = trainer.run(range(4), max_epochs=2)
            >>> again = Engine(lambda e, b: None)
            >>> Checkpoint.resume({"model": model, "trainer": again}, folder).name
            'checkpoint_4.pt'
            >>> again.run(range(4)).iteration
            8
        """
        return load_latest(
            to_load, dirname, filename_prefix=filename_prefix, filename_pattern=filename_pattern, strict=strict
        )

    def reload_objects(
        self, to_load: Mapping[str, Any], load_kwargs: Mapping[str, Any] | None = None, **filename_components: Any
    ) -> None:
        """Load ``to_load`` from one of this handler's files, named from ``filename_components`` (``name``,
        ``score``, ``global_step``) as when it was saved. Needs a store that reads (a :class:`DiskSaver`...);
        ``load_kwargs`` go to
        :meth:`load_objects` (e.g. ``strict=False``).

        Example:
            >>> import tempfile, torch
            >>> model, trainer = torch.nn.Linear(2, 1), Engine(lambda e, b: None)
            >>> checkpoint = Checkpoint({"model": model}, tempfile.mkdtemp(), n_saved=None)
            >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
            >>> _ = trainer.run([0, 0], max_epochs=2)
            >>> checkpoint.reload_objects({"model": model}, global_step=2)
        """
        if not self._store.can_read:
            raise AttributeError(cannot_read_message(self.save_handler))
        unknown = sorted(set(filename_components) - {"name", "score", "global_step"})
        if unknown:
            raise TypeError(f"reload_objects takes the filename components name, score and global_step, got {unknown}.")
        global_step = filename_components.get("global_step")
        naming = self._naming(global_step is not None, filename_components.get("name", self._name()))
        filename = naming.format(global_step=global_step, score=filename_components.get("score"))
        self._store.load(to_load, filename, **dict(load_kwargs or {}))

    load_objects = staticmethod(load_objects)
    read_checkpoint = staticmethod(read_checkpoint)


class _KeptList:
    """A checkpoint's own state as saved with ``include_self``: the kept list *with* the checkpoint being saved."""

    def __init__(self, kept: list[SavedItem]) -> None:
        self._kept = kept

    def state_dict(self) -> dict[str, Any]:
        return {"_saved": [tuple(item) for item in self._kept]}
