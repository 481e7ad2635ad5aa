"""MLflow logging through the ``mlflow`` client (the optional ``mlflow`` extra): metrics go to the active run of
the tracking store (a local folder, a SQLite file or a tracking server)."""

from __future__ import annotations

import os
import warnings
from typing import Any

from cadence.engine import Engine
from cadence.loggers._service import KeyedOutputHandler, import_client, require_logger
from cadence.loggers.base import BaseOptimizerParamsHandler, EventName, default_global_step
from cadence.loggers.logger import BaseLogger

__all__ = ["MLflowLogger", "OptimizerParamsHandler", "OutputHandler"]


def _mlflow(module: str = "mlflow") -> Any:
    return import_client(module, needs="mlflow to be installed", package="mlflow", extra="mlflow")


class MLflowLogger(BaseLogger):
    """Log to MLflow: the handlers call ``mlflow.log_metrics`` on the active run (one is started if none is).

    Args:
        tracking_uri: where runs are stored: a folder, ``sqlite:///path.db``, or a server's address
            (default: MLflow's own, ``MLFLOW_TRACKING_URI`` or ``./mlruns``).

    Any ``mlflow`` function is reachable through the logger (``logger.log_param("seed", 0)``), and
    ``active_run`` is the run written to. ``close()`` ends the run.

    Example:
        >>> import os, tempfile
        >>> from cadence import Engine, Events
        >>> os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 asks for it to store runs in a folder
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> store = tempfile.mkdtemp() + "/mlruns"
        >>> with MLflowLogger(tracking_uri=store) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
        ...                                      output_transform=lambda loss: {"loss": loss})
        ...     _ = trainer.run([1, 2])
        ...     run_id = logger.active_run.info.run_id
        >>> from mlflow.tracking import MlflowClient
        >>> [metric.value for metric in MlflowClient(store).get_metric_history(run_id, "training loss")]
        [0.5, 1.0]
    """

    def __init__(self, tracking_uri: str | os.PathLike[str] | None = None) -> None:
        mlflow = _mlflow()
        if tracking_uri is not None:
            mlflow.set_tracking_uri(os.fspath(tracking_uri))
        self.active_run: Any = mlflow.active_run() or mlflow.start_run()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "active_run":  # not the client's to answer
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(_mlflow(), name)

    def close(self) -> None:
        _mlflow().end_run()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


class OutputHandler(KeyedOutputHandler):
    """Log metrics, the transformed output and state attributes as MLflow metrics named ``"{tag} {name}"``
    (arguments as in :class:`~cadence.loggers.base.BaseOutputHandler`). Nested values add words:
    ``"{tag} {name} 0"``. A name MLflow refuses (characters other than letters, digits, ``_ - . / :`` and
    spaces) is skipped with a warning.

    Example:
        >>> handler = OutputHandler("validation", metric_names=["accuracy"])
        >>> handler.tag, handler.metric_names
        ('validation', ['accuracy'])
    """

    def __call__(self, engine: Engine[Any], logger: MLflowLogger, event_name: EventName) -> None:
        require_logger(logger, MLflowLogger, "'OutputHandler'", TypeError)
        values = self.collect_keyed(engine)
        step = self.global_step(engine, event_name)
        is_valid = _mlflow("mlflow.utils.validation").validate_param_and_metric_name
        metrics: dict[str, Any] = {}
        for key, value in values.items():
            name = " ".join(key)
            if is_valid(name):
                metrics[name] = value
            else:
                warnings.warn(
                    f"MLflowLogger output_handler encountered an invalid metric name {name!r}: MLflow takes "
                    "letters, digits, spaces and _ - . / : only. It is not logged.",
                    UserWarning,
                    stacklevel=2,
                )
        logger.log_metrics(metrics, step=step)


class OptimizerParamsHandler(BaseOptimizerParamsHandler):
    """Log ``param_name`` (default ``"lr"``) of every parameter group as the MLflow metric
    ``"[{tag} ]{param_name} group_{i}"``.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer, tag="generator").tag
        'generator'
    """

    def __call__(self, engine: Engine[Any], logger: MLflowLogger, event_name: EventName) -> None:
        require_logger(logger, MLflowLogger, "OptimizerParamsHandler", TypeError)
        prefix = f"{self.tag} " if self.tag else ""
        params = {
            f"{prefix}{self.param_name} group_{index}": float(group[self.param_name])
            for index, group in enumerate(self.optimizer.param_groups)
        }
        logger.log_metrics(params, step=default_global_step(engine, event_name))
