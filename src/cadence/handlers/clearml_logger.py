"""Ignite's ``ignite.handlers.clearml_logger`` path: :class:`ClearMLSaver`, a save handler of checkpoints, and the
logger and handlers of :mod:`cadence.loggers.clearml`.

Example:
    >>> from cadence.handlers.clearml_logger import ClearMLLogger
    >>> from cadence.loggers.clearml import ClearMLLogger as Same
    >>> ClearMLLogger is Same
    True
"""

from __future__ import annotations

import tempfile
import warnings
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from cadence.distributed import all_gather, barrier, get_rank, get_world_size
from cadence.handlers.savers import DiskSaver
from cadence.loggers._service import import_client
from cadence.loggers.base import global_step_from_engine
from cadence.loggers.clearml import (
    ClearMLLogger,
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsHistHandler,
    WeightsScalarHandler,
)

__all__ = [
    "ClearMLLogger",
    "ClearMLSaver",
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


def _clearml(module: str = "clearml") -> Any:
    return import_client(module, needs="clearml to be installed", package="clearml", extra="clearml")


class ClearMLSaver(DiskSaver):
    """Save checkpoints to ``dirname`` (a new temporary folder by default) and register each as an output model
    of the current ClearML task, uploaded to the task's ``output_uri``.

    The models of one ``Checkpoint`` reuse ``n_saved`` slots (``{basename}_{slot}.pt``): replacing the
    oldest checkpoint updates its model rather than adding one. Files are written in place (``atomic=False``)
    unless asked otherwise.

    Args:
        logger: a :class:`ClearMLLogger` (its task is the current one), or ``None`` when a task was started
            with ``clearml.Task.init()``.
        output_uri: where the task uploads models (``"s3://bucket/path"``, a folder...), if given.
        dirname: the local folder of the files.
        args, kwargs: the other arguments of :class:`~cadence.handlers.savers.DiskSaver`.

    Example:
        >>> ClearMLSaver.__mro__[1].__name__
        'DiskSaver'
    """

    def __init__(
        self,
        logger: ClearMLLogger | None = None,
        output_uri: str | None = None,
        dirname: str | Path | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self._task: Any = None
        if get_rank() == 0:
            self._task = self._current_task(logger, output_uri)
        if not dirname:
            local = ""
            if get_rank() == 0:
                stamp = datetime.now().strftime("%Y_%m_%d_%H_%M_%S_")
                local = tempfile.mkdtemp(prefix=f"cadence_checkpoints_{stamp}")
            dirname = all_gather(local)[0] if get_world_size() > 1 else local
            warnings.warn(
                f"ClearMLSaver created a temporary checkpoints directory: {dirname}", UserWarning, stacklevel=2
            )
            barrier()
        kwargs.setdefault("atomic", False)
        self._slots: defaultdict[tuple[str, str], list[str | None]] = defaultdict(list)
        super().__init__(dirname, *args, **kwargs)

    @staticmethod
    def _current_task(logger: ClearMLLogger | None, output_uri: str | None) -> Any:
        task_class = _clearml().Task
        if logger is not None and not isinstance(logger, ClearMLLogger):
            raise TypeError(f"logger must be an instance of ClearMLLogger, got {type(logger).__name__}.")
        task = task_class.current_task()
        if not task:
            raise RuntimeError(
                "ClearMLSaver requires a ClearML Task to be initialized. Please use the `logger` argument or call "
                "`clearml.Task.init()`."
            )
        if output_uri:
            task.output_uri = output_uri
        return task

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        frameworks = _clearml("clearml.binding.frameworks")
        super().__call__(checkpoint, filename, metadata)
        if get_rank() == self.save_on_rank and self._task is not None:
            self._register(frameworks, checkpoint, filename, metadata)

    def _register(
        self, frameworks: Any, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None
    ) -> None:
        basename = str(metadata["basename"]) if metadata and "basename" in metadata else Path(filename).stem
        slots = self._slots[(str(self.dirname), basename)]
        slot = slots.index(None) if None in slots else len(slots)
        slots[slot : slot + 1] = [filename]
        frameworks.WeightsFileHandler.create_output_model(
            checkpoint,
            str(self.dirname / filename),
            _clearml("clearml.model").Framework.pytorch,
            self._task,
            singlefile=True,
            model_name=f"{basename}_{slot}",
        )

    def get_local_copy(self, filename: str) -> str | None:
        """The path of a local copy of the checkpoint ``filename``: the file in ``dirname``, else a download of
        the task's artifact of that name; ``None`` if neither exists (a text report says so)."""
        local = self.dirname / filename
        if local.exists():
            return str(local)
        if self._task is None:
            return None
        artifact = self._task.artifacts.get(filename)
        if artifact:
            return str(artifact.get_local_copy())
        self._task.get_logger().report_text(f"Can not find artifact {filename}")
        return None

    def remove(self, filename: str) -> None:
        super().remove(filename)
        for slots in self._slots.values():
            if filename in slots:
                slots[slots.index(filename)] = None
                break
