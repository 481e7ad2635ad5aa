"""One-call logging setups (Ignite's ``ignite.handlers.logger_utils``): the trainer's metrics every
``log_every_iters`` iterations, the optimizers' learning rates, and the evaluators' metrics after each
evaluation at the trainer's epoch.

Each service's client is imported when its logger is built (the optional extras ``mlflow``, ``wandb``...).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

from torch.optim import Optimizer

from cadence.engine import Engine, Events
from cadence.loggers.base import global_step_from_engine
from cadence.loggers.clearml import ClearMLLogger
from cadence.loggers.logger import BaseLogger
from cadence.loggers.mlflow import MLflowLogger
from cadence.loggers.neptune import NeptuneLogger
from cadence.loggers.polyaxon import PolyaxonLogger
from cadence.loggers.tensorboard import TensorboardLogger
from cadence.loggers.visdom import VisdomLogger
from cadence.loggers.wandb import WandBLogger

__all__ = [
    "setup_clearml_logging",
    "setup_mlflow_logging",
    "setup_neptune_logging",
    "setup_plx_logging",
    "setup_tb_logging",
    "setup_trains_logging",
    "setup_visdom_logging",
    "setup_wandb_logging",
]

MetricNames = str | list[str]
Optimizers = Optimizer | Mapping[str | None, Optimizer] | None
Evaluators = Engine[Any] | Mapping[str, Engine[Any]] | None


LoggerT = TypeVar("LoggerT", bound=BaseLogger)


def _check_targets(optimizers: Optimizers, evaluators: Evaluators) -> None:
    """Refuse bad ``optimizers`` or ``evaluators`` before a logger (and its service's run) is made."""
    if optimizers is not None and not isinstance(optimizers, Optimizer | Mapping):
        raise TypeError(
            "Argument optimizers should be either a single optimizer or a dictionary of optimizers, "
            f"got {type(optimizers).__name__}."
        )
    if evaluators is not None and not isinstance(evaluators, Engine | Mapping):
        raise TypeError(
            "Argument evaluators should be either a single engine or a dictionary of engines, "
            f"got {type(evaluators).__name__}."
        )


def _setup_logging(
    logger: LoggerT,
    trainer: Engine[Any],
    optimizers: Optimizers,
    evaluators: Evaluators,
    log_every_iters: int | None,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
) -> LoggerT:
    _check_targets(optimizers, evaluators)
    every = 1 if log_every_iters is None else log_every_iters
    logger.attach_output_handler(
        trainer, Events.ITERATION_COMPLETED(every=every), tag="training", metric_names=trainer_metric_names
    )
    if optimizers is not None:
        named = {None: optimizers} if isinstance(optimizers, Optimizer) else optimizers
        for tag, optimizer in named.items():
            logger.attach_opt_params_handler(
                trainer, Events.ITERATION_STARTED(every=every), optimizer, param_name="lr", tag=tag
            )
    if evaluators is not None:
        by_tag = {"validation": evaluators} if isinstance(evaluators, Engine) else evaluators
        step = global_step_from_engine(trainer)
        for tag, evaluator in by_tag.items():
            logger.attach_output_handler(
                evaluator, Events.COMPLETED, tag=tag, metric_names=evaluator_metric_names, global_step_transform=step
            )
    return logger


def setup_tb_logging(
    output_path: Any,
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> TensorboardLogger:
    """Log to TensorBoard in ``output_path``: ``training/*`` metrics every ``log_every_iters`` iterations,
    ``lr/group_i`` (tagged by the optimizer's key when ``optimizers`` is a dict), and each evaluator's
    metrics (tagged ``validation`` or by its key) at the trainer's epoch. Extra ``kwargs`` go to
    :class:`~cadence.loggers.TensorboardLogger`. Close the returned logger at the end.

    Example:
        >>> import tempfile, torch
        >>> trainer, evaluator = Engine(lambda e, b: None), Engine(lambda e, b: None)
        >>> _ = evaluator.on(Events.COMPLETED)(lambda e: e.state.metrics.update(acc=0.5))
        >>> _ = trainer.on(Events.EPOCH_COMPLETED)(lambda: evaluator.run([0]))
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
        >>> logger = setup_tb_logging(tempfile.mkdtemp(), trainer, optimizer, evaluator, log_every_iters=1)
        >>> _ = trainer.run([0, 0], max_epochs=2)
        >>> logger.close()
    """
    return _setup_logging(
        TensorboardLogger(log_dir=output_path, **kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_visdom_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> VisdomLogger:
    """As :func:`setup_tb_logging`, to Visdom; ``kwargs`` go to :class:`~cadence.loggers.visdom.VisdomLogger`.

    Example:
        >>> import tempfile
        >>> trainer = Engine(lambda e, b: None)
        >>> log_file = tempfile.mkdtemp() + "/visdom.log"
        >>> logger = setup_visdom_logging(trainer, log_every_iters=1, offline=True, log_to_filename=log_file)
        >>> _ = trainer.run([0, 0])
        >>> logger.close()
    """
    _check_targets(optimizers, evaluators)
    return _setup_logging(
        VisdomLogger(**kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_mlflow_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> MLflowLogger:
    """As :func:`setup_tb_logging`, to MLflow; ``kwargs`` (``tracking_uri``) go to
    :class:`~cadence.loggers.mlflow.MLflowLogger`.

    Example:
        >>> import os, tempfile, torch
        >>> os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 asks for it to store runs in a folder
        >>> trainer = Engine(lambda e, b: None)
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
        >>> logger = setup_mlflow_logging(trainer, optimizer, log_every_iters=1,
        ...                               tracking_uri=tempfile.mkdtemp() + "/mlruns")
        >>> _ = trainer.run([0, 0])
        >>> logger.close()
    """
    _check_targets(optimizers, evaluators)
    return _setup_logging(
        MLflowLogger(**kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_neptune_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> NeptuneLogger:
    """As :func:`setup_tb_logging`, to Neptune; ``kwargs`` (``api_token``, ``project``, ``mode``...) go to
    :class:`~cadence.loggers.neptune.NeptuneLogger`.

    Example:
        >>> import logging, neptune
        >>> logging.getLogger("neptune").setLevel(logging.WARNING)
        >>> trainer = Engine(lambda e, b: None)
        >>> logger = setup_neptune_logging(trainer, log_every_iters=1, mode="debug")
        >>> _ = trainer.run([0, 0])
        >>> logger.close()
    """
    _check_targets(optimizers, evaluators)
    return _setup_logging(
        NeptuneLogger(**kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_wandb_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> WandBLogger:
    """As :func:`setup_tb_logging`, to Weights & Biases; ``kwargs`` go to ``wandb.init`` through
    :class:`~cadence.loggers.wandb.WandBLogger`.

    Example:
        >>> trainer = Engine(lambda e, b: None)
        >>> logger = setup_wandb_logging(trainer, log_every_iters=1, mode="disabled")
        >>> _ = trainer.run([0, 0])
        >>> logger.close()
    """
    _check_targets(optimizers, evaluators)
    return _setup_logging(
        WandBLogger(**kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_plx_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> PolyaxonLogger:
    """As :func:`setup_tb_logging`, to Polyaxon; ``kwargs`` go to ``polyaxon.tracking.Run`` through
    :class:`~cadence.loggers.polyaxon.PolyaxonLogger`.

    Example:
        >>> import tempfile
        >>> trainer = Engine(lambda e, b: None)
        >>> logger = setup_plx_logging(trainer, log_every_iters=1, project="demo", is_offline=True, is_new=True,
        ...                            artifacts_path=tempfile.mkdtemp(), track_code=False, track_env=False,
        ...                            track_logs=False, collect_resources=False)
        >>> _ = trainer.run([0, 0])
        >>> logger.close()
    """
    _check_targets(optimizers, evaluators)
    return _setup_logging(
        PolyaxonLogger(**kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_clearml_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> ClearMLLogger:
    """As :func:`setup_tb_logging`, to ClearML; ``kwargs`` (``project_name``, ``task_name``...) go to
    :class:`~cadence.loggers.clearml.ClearMLLogger` (see there for its offline mode).

    Example:
        >>> setup_clearml_logging(Engine(lambda e, b: None), optimizers="sgd")
        Traceback (most recent call last):
        ...
        TypeError: Argument optimizers should be either a single optimizer or a dictionary of optimizers, got str.
    """
    _check_targets(optimizers, evaluators)
    return _setup_logging(
        ClearMLLogger(**kwargs), trainer, optimizers, evaluators, log_every_iters,
        trainer_metric_names=trainer_metric_names, evaluator_metric_names=evaluator_metric_names,
    )  # fmt: skip


def setup_trains_logging(
    trainer: Engine[Any],
    optimizers: Optimizers = None,
    evaluators: Evaluators = None,
    log_every_iters: int = 100,
    *,
    trainer_metric_names: MetricNames = "all",
    evaluator_metric_names: MetricNames = "all",
    **kwargs: Any,
) -> ClearMLLogger:
    """The old name of :func:`setup_clearml_logging` (warns, then calls it).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     try:
        ...         setup_trains_logging(Engine(lambda e, b: None), evaluators="validation")
        ...     except TypeError:
        ...         pass
        >>> str(caught[0].message)
        'setup_trains_logging was renamed to setup_clearml_logging.'
    """
    warnings.warn("setup_trains_logging was renamed to setup_clearml_logging.", UserWarning, stacklevel=2)
    return setup_clearml_logging(
        trainer,
        optimizers,
        evaluators,
        log_every_iters,
        trainer_metric_names=trainer_metric_names,
        evaluator_metric_names=evaluator_metric_names,
        **kwargs,
    )
