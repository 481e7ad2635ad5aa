"""A :class:`~cadence.handlers.checkpoint.Checkpoint` adopts the files of its own naming that an earlier run (a crash,
a restart) left in its folder, so that ``n_saved`` holds across restarts."""

from __future__ import annotations

import json
import numbers
import re
import warnings
from collections.abc import Callable
from typing import Any

from cadence.distributed import broadcast, get_rank, get_world_size
from cadence.handlers._naming import DECIMAL, INTEGER, filename_regex
from cadence.handlers._retention import Item, merge, scan_folder
from cadence.handlers.savers import DiskSaver

__all__ = ["AdoptsFolder"]


class AdoptsFolder:
    """The folder-adoption part of ``Checkpoint`` (a mixin: it reads the checkpoint's naming and kept files)."""

    save_handler: Any
    score_function: Callable[..., Any] | None
    global_step_transform: Callable[..., Any] | None
    filename_prefix: str
    score_name: str | None
    ext: str
    n_saved: int | None
    _saved: list[Item]
    _adopted: set[str]
    _scanned_folder: bool
    _warned_outranked: bool
    _sharded: bool

    def _name(self) -> str:
        raise NotImplementedError

    def _pattern(self, with_global_step: bool) -> str:
        raise NotImplementedError

    def _adopt_files_in_folder(self, priority: float) -> None:
        """Count the files of this checkpoint's naming already in its folder among the kept ones; remove the
        temporary files of its interrupted saves. Only the saving rank reads the folder: on a folder shared by
        several machines, another rank would find (and judge) the file the saving rank has just written. A
        sharded save is a collective, so there the saving rank's findings go to every rank (one broadcast)."""
        self._scanned_folder = True
        saver = self.save_handler
        if not isinstance(saver, DiskSaver):
            return
        found: list[Item] = []
        if get_rank() == saver.save_on_rank:
            regex = self._own_filename_regex(isinstance(priority, numbers.Integral))
            if regex is not None and saver.dirname.is_dir():
                priority_field = "score" if self.score_function else "global_step"
                found, temporaries = scan_folder(saver.dirname, regex, priority_field)
                for temporary in temporaries:
                    saver.remove(temporary)
        if self._sharded and get_world_size() > 1:  # every rank must then decide alike whether to save
            text = broadcast(json.dumps([list(item) for item in found]), src=saver.save_on_rank)
            found = [Item(priority_, filename) for priority_, filename in json.loads(text)]
        if not found:
            return
        self._adopted = {item.filename for item in found} - {item.filename for item in self._saved}
        self._saved = merge(self._saved, found)

    def _own_filename_regex(self, integer_scores: bool) -> re.Pattern[str] | None:
        """What this checkpoint's file names look like, the step being any integer and the score any number
        written as this one's scores are (``12`` or ``0.9000``: ``model_12.pt`` may be a step-named file);
        ``None`` when the pattern lacks what files are ranked by (then they cannot be ordered)."""
        with_step = self.global_step_transform is not None or self.score_function is None
        captured = {"global_step": INTEGER} if with_step else {}
        if self.score_function is not None:
            captured["score"] = INTEGER if integer_scores else DECIMAL
        fields = {"filename_prefix": self.filename_prefix, "name": self._name(), "score_name": self.score_name}
        regex = filename_regex(self._pattern(with_step), {**fields, "ext": self.ext}, captured)
        priority = "score" if self.score_function is not None else "global_step"
        return regex if regex is not None and priority in regex.groupindex else None

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
