"""TensorBoard logging through ``torch.utils.tensorboard`` (needs the optional ``tensorboard`` package)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cadence.distributed import get_rank
from cadence.loggers.base import BaseLogger

__all__ = ["TensorboardLogger"]


def _summary_writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:  # tensorboard is an optional extra
        raise ImportError(
            "TensorboardLogger needs the tensorboard package: pip install 'cadence[tensorboard]' "
            "(or pip install tensorboard)."
        ) from error
    return SummaryWriter


class TensorboardLogger(BaseLogger):
    """Write scalars as TensorBoard events under ``log_dir`` (rank 0 only; other ranks write nothing).

    Args:
        log_dir: the run's folder (``None``: ``runs/<date>_<host>``, as ``SummaryWriter`` picks).
        writer_kwargs: passed on to ``torch.utils.tensorboard.SummaryWriter`` (``flush_secs``, ``comment``...).

    ``writer`` is the ``SummaryWriter`` itself (``None`` on other ranks), for images, histograms and the like.

    Example:
        >>> import tempfile
        >>> from cadence import Engine, Events
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> with TensorboardLogger(log_dir=tempfile.mkdtemp()) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
        ...                                      output_transform=lambda out: {"loss": out})
        ...     _ = trainer.run([1, 2])
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, **writer_kwargs: Any) -> None:
        summary_writer = _summary_writer_class()
        self.writer: Any = None
        if get_rank() == 0:
            self.writer = summary_writer(log_dir=None if log_dir is None else os.fspath(log_dir), **writer_kwargs)
        self._closed = False

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        if self._closed:
            raise ValueError("TensorboardLogger is closed; make a new logger to write more.")
        if self.writer is None:
            return
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        self._closed = True
        if self.writer is not None:
            self.writer.close()
