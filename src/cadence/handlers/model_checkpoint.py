"""``ModelCheckpoint``: a :class:`~cadence.handlers.checkpointer.Checkpoint` on a folder, given its objects when
attached (Ignite's older interface; ``cadence.handlers.checkpoint`` re-exports it at Ignite's path)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cadence.engine import Engine
from cadence.handlers._naming import GlobalStepTransform
from cadence.handlers.checkpointer import Checkpoint, ScoreFunction
from cadence.handlers.savers import DiskSaver

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Checkpoint):
    """A :class:`Checkpoint` writing to the folder ``dirname``, given the objects when attached.

    Attach it as ``engine.add_event_handler(event, handler, {"model": model})``: that mapping is the
    ``to_save`` of :class:`Checkpoint` (a call without one saves the objects of the previous call).
    File names, scores and retention (also across restarts) are :class:`Checkpoint`'s; the files are
    written by a :class:`DiskSaver` on ``dirname``.

    Args:
        dirname: the folder of the checkpoint files.
        filename_prefix: the first part of each file name (``{filename_prefix}_{name}_{global_step}.pt``).
        score_function: ``fn(engine) -> number``; the ``n_saved`` files of the highest scores are kept.
        score_name: the score's name in file names; without ``score_function``, the score is
            ``engine.state.metrics[score_name]``.
        n_saved: how many files to keep (``None``: all).
        atomic: write each file through a temporary file and a rename, so a crash never leaves a
            partial file.
        require_empty: refuse a folder that already holds ``.pt`` files; ``False`` to continue a
            run in its folder.
        create_dir: create ``dirname`` if it does not exist.
        global_step_transform: ``fn(engine, event) -> int``, the step in file names (default: the
            engine's iteration); e.g. :func:`~cadence.handlers.global_step_from_engine` for an evaluator's checkpoints.
        filename_pattern: a ``str.format`` pattern for file names, as for :class:`Checkpoint`.
        include_self: also save this handler's own state under ``"checkpointer"``.
        greater_or_equal: a score equal to the worst kept one replaces it.
        save_on_rank: the rank that writes the files.
        async_save: write each file on a background thread while the loop goes on (see
            :meth:`Checkpoint.wait`).
        kwargs: passed on to :class:`DiskSaver` (e.g. ``wait_all_ranks=True``) and through it to
            :func:`torch.save`.

    Example:
        >>> import tempfile, torch
        >>> from cadence import Events
        >>> trainer = Engine(lambda e, b: None)
        >>> handler = ModelCheckpoint(tempfile.mkdtemp(), "run", n_saved=None)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, handler, {"model": torch.nn.Linear(2, 1)})
        >>> _ = trainer.run([0], max_epochs=2)
        >>> sorted(p.name for p in handler.save_handler.dirname.iterdir())
        ['run_model_1.pt', 'run_model_2.pt']
        >>> handler.reload_objects({"model": torch.nn.Linear(2, 1)}, global_step=2)
    """

    def __init__(
        self,
        dirname: str | Path,
        filename_prefix: str = "",
        score_function: ScoreFunction | None = None,
        score_name: str | None = None,
        n_saved: int | None = 1,
        atomic: bool = True,
        require_empty: bool = True,
        create_dir: bool = True,
        global_step_transform: GlobalStepTransform | None = None,
        filename_pattern: str | None = None,
        include_self: bool = False,
        greater_or_equal: bool = False,
        save_on_rank: int = 0,
        *,
        async_save: bool = False,
        **kwargs: Any,
    ) -> None:
        saver = DiskSaver(
            dirname,
            atomic=atomic,
            create_dir=create_dir,
            require_empty=require_empty,
            save_on_rank=save_on_rank,
            **kwargs,
        )
        super().__init__(
            {},
            saver,
            filename_prefix=filename_prefix,
            score_function=score_function,
            score_name=score_name,
            n_saved=n_saved,
            global_step_transform=global_step_transform,
            filename_pattern=filename_pattern,
            include_self=include_self,
            greater_or_equal=greater_or_equal,
            save_on_rank=save_on_rank,
            async_save=async_save,
        )

    @property
    def last_checkpoint(self) -> Path | None:
        """The path of the best (or latest, without a score) kept file."""
        if not self._saved:
            return None
        if not isinstance(self.save_handler, DiskSaver):
            raise RuntimeError(
                f"Internal error, save_handler should be DiskSaver, but has {type(self.save_handler)}. "
                "Use Checkpoint for other save handlers."
            )
        return self.save_handler.dirname / self._saved[-1].filename

    def __call__(self, engine: Engine[Any], to_save: Mapping[str, Any] | None = None, *event_args: Any) -> None:
        """Save ``to_save`` (or the objects of the previous call) now, as :meth:`Checkpoint.__call__`."""
        if to_save is not None:
            if len(to_save) == 0:
                raise RuntimeError("No objects to checkpoint found: to_save is empty.")
            self._check_to_save(to_save, self.include_self)
            self.to_save = to_save
        if not self.to_save:
            raise RuntimeError(
                "No objects to checkpoint found: attach the handler with the objects, "
                "engine.add_event_handler(event, handler, {'model': model})."
            )
        super().__call__(engine)
