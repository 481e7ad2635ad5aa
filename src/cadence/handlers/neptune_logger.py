"""Ignite's ``ignite.handlers.neptune_logger`` path: :class:`NeptuneSaver`, a save handler of checkpoints, and the
logger and handlers of :mod:`cadence.loggers.neptune`.

Example:
    >>> from cadence.handlers.neptune_logger import NeptuneLogger
    >>> from cadence.loggers.neptune import NeptuneLogger as Same
    >>> NeptuneLogger is Same
    True
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from cadence.distributed import one_rank_only
from cadence.handlers.savers import BaseSaveHandler
from cadence.loggers._service import import_client
from cadence.loggers.base import global_step_from_engine
from cadence.loggers.neptune import (
    GradsScalarHandler,
    NeptuneLogger,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsScalarHandler,
)

__all__ = [
    "GradsScalarHandler",
    "NeptuneLogger",
    "NeptuneSaver",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


def _neptune(module: str = "neptune") -> Any:
    return import_client(module, needs="the Neptune client library to be installed", package="neptune", extra="neptune")


class NeptuneSaver(BaseSaveHandler):
    """Save checkpoints as files of the Neptune run (the field named after the file), from rank 0 only.

    Example:
        >>> import logging, neptune
        >>> from cadence import Engine
        >>> from cadence.handlers import Checkpoint
        >>> logging.getLogger("neptune").setLevel(logging.WARNING)
        >>> model = torch.nn.Linear(2, 1)
        >>> with NeptuneLogger(mode="debug") as logger:
        ...     checkpoint = Checkpoint({"model": model}, NeptuneSaver(logger), n_saved=1)
        ...     checkpoint(Engine(lambda e, b: None))
        ...     logger.exists("model_0.pt")
        True
    """

    def __init__(self, neptune_logger: NeptuneLogger) -> None:
        self._logger = neptune_logger

    @one_rank_only()
    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            file_type = _neptune("neptune.types").File
        with tempfile.TemporaryFile() as buffer:
            torch.save(checkpoint, buffer)
            buffer.seek(0)
            self._logger[filename].upload(file_type.from_stream(buffer))

    @one_rank_only(with_barrier=True)
    def remove(self, filename: str) -> None:
        del self._logger.experiment[filename]
