"""Polyaxon logging through the ``polyaxon`` client (the optional ``polyaxon`` extra; the older
``polyaxon-client`` also works): the handlers call ``log_metrics`` of the logger's tracking run."""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any

from cadence.engine import Engine
from cadence.loggers._service import KeyedOutputHandler, import_client, require_logger
from cadence.loggers.base import BaseOptimizerParamsHandler, EventName, default_global_step
from cadence.loggers.logger import BaseLogger

__all__ = ["OptimizerParamsHandler", "OutputHandler", "PolyaxonLogger"]


def _run_class() -> Any:
    try:
        return importlib.import_module("polyaxon.tracking").Run
    except ImportError:  # Polyaxon v0.x names its client polyaxon-client
        try:
            return importlib.import_module("polyaxon_client.tracking").Experiment
        except ImportError:
            tracking = import_client("polyaxon.tracking", needs="polyaxon", package="polyaxon", extra="polyaxon")
            return tracking.Run  # pragma: no cover  # import_client raised


class PolyaxonLogger(BaseLogger):
    """Log to Polyaxon: the arguments go to ``polyaxon.tracking.Run`` (``project``, ``is_offline=True`` with
    ``artifacts_path`` to write only local files, ``no_op=True`` to log nothing...), kept as ``experiment``.

    Any method of the run is reachable through the logger (``logger.log_inputs(batch_size=32)``).
    ``close()`` ends the run.

    Example:
        >>> import tempfile
        >>> from cadence import Engine, Events
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> folder = tempfile.mkdtemp()
        >>> with PolyaxonLogger(project="demo", is_offline=True, is_new=True, artifacts_path=folder,
        ...                     track_code=False, track_env=False, track_logs=False, collect_resources=False) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
        ...                                      output_transform=lambda loss: {"loss": loss})
        ...     _ = trainer.run([1, 2])
        >>> print(open(folder + "/events/metric/training__loss.plx").read().splitlines()[1].split("|")[::2])
        ['1', '0.5']
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Polyaxon's end() sets sys.stdout and sys.stderr to the process's own, whatever they were (a notebook's,
        # pytest's capture): close() puts back the ones in place before the run began.
        self._streams = (sys.stdout, sys.stderr)
        self.experiment: Any = _run_class()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "experiment":  # not the run's to answer
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.experiment, name)

    def close(self) -> None:
        try:
            with contextlib.suppress(AttributeError):  # a no-op run (POLYAXON_NO_OP) has nothing set up to end
                self.experiment.end()
        finally:
            sys.stdout, sys.stderr = self._streams

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


class OutputHandler(KeyedOutputHandler):
    """Log metrics, the transformed output and state attributes as ``{tag}/{name}`` with one ``log_metrics``
    call (arguments as in :class:`~cadence.loggers.base.BaseOutputHandler`).

    Example:
        >>> OutputHandler("validation", metric_names="all").metric_names
        'all'
    """

    def __call__(self, engine: Engine[Any], logger: PolyaxonLogger, event_name: EventName) -> None:
        require_logger(logger, PolyaxonLogger, "'OutputHandler'")
        values = {"/".join(key): value for key, value in self.collect_keyed(engine).items()}
        logger.log_metrics(step=self.global_step(engine, event_name), **values)


class OptimizerParamsHandler(BaseOptimizerParamsHandler):
    """Log ``param_name`` (default ``"lr"``) of every parameter group as ``[{tag}/]{param_name}/group_{i}``.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer).collect()
        {'lr/group_0': 0.1}
    """

    def __call__(self, engine: Engine[Any], logger: PolyaxonLogger, event_name: EventName) -> None:
        require_logger(logger, PolyaxonLogger, "OptimizerParamsHandler")
        logger.log_metrics(step=default_global_step(engine, event_name), **self.collect())
