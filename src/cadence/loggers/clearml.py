"""ClearML logging through the ``clearml`` client (the optional ``clearml`` extra): scalars and histograms go
to the logger of a ClearML task (``ClearMLLogger.set_bypass_mode(True)`` runs it offline, writing only a local
session folder). :class:`~cadence.handlers.clearml_logger.ClearMLSaver` registers checkpoints as the task's
output models."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import Any

import torch

from cadence.engine import Engine
from cadence.loggers._service import KeyedOutputHandler, import_client, require_logger
from cadence.loggers.base import (
    BaseOptimizerParamsHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
    EventName,
    default_global_step,
)
from cadence.loggers.logger import BaseLogger

__all__ = [
    "FRAMEWORK_HOOKS",
    "ClearMLLogger",
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsHistHandler",
    "WeightsScalarHandler",
]


# The keys of Task.init's auto_connect_frameworks: what ClearML patches (and whether it scans the repository).
FRAMEWORK_HOOKS = (
    "catboost", "detect_repository", "fastai", "gradio", "hydra", "joblib", "lightgbm", "matplotlib", "megengine",
    "pytorch", "scikit", "tensorboard", "tensorflow", "tfdefines", "xgboost",
)  # fmt: skip


def _clearml(module: str = "clearml") -> Any:
    return import_client(module, needs="clearml to be installed", package="clearml", extra="clearml")


class ClearMLLogger(BaseLogger):
    """Log to ClearML: the logger uses the current ClearML task, or starts one with ``Task.init(**kwargs)``
    (``project_name``, ``task_name``, ``task_type`` (default: training), ``output_uri``...).

    ``clearml_logger`` is the task's ``clearml.Logger`` (its methods are reachable through this logger:
    ``logger.report_text("...")``), ``grad_helper`` draws the histograms, :meth:`get_task` is the task.
    ``close()`` flushes and closes the task.

    In bypass mode (``ClearMLLogger.set_bypass_mode(True)``, or by default when the ``CI`` environment
    variable is set) ClearML runs offline: nothing is sent, the session is kept in a local folder.

    Example:
        >>> import os, tempfile
        >>> from cadence import Engine, Events
        >>> os.environ["CLEARML_CACHE_DIR"] = tempfile.mkdtemp()  # where the offline session goes
        >>> ClearMLLogger.set_bypass_mode(True)
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> no_hooks = dict.fromkeys(FRAMEWORK_HOOKS, False)  # no patched libraries, no repository scan
        >>> with warnings.catch_warnings():  # doctest: +ELLIPSIS
        ...     warnings.simplefilter("ignore")  # the bypass-mode notice
        ...     logger = ClearMLLogger(project_name="demo", task_name="doctest", auto_connect_frameworks=no_hooks,
        ...                            auto_resource_monitoring=False, auto_connect_streams=False)
        ClearML Task: created new task id=offline-...
        ClearML running in offline mode, session stored in ...
        >>> _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
        ...                                  output_transform=lambda loss: {"loss": loss})
        >>> _ = trainer.run([1, 2])
        >>> session = logger.get_task().get_offline_mode_folder()
        >>> logger.close()  # doctest: +ELLIPSIS
        ClearML Task: Offline session stored in ...
        >>> '"metric": "training", "variant": "loss"' in open(session / "metrics.jsonl").read()
        True
    """

    _bypass: bool | None = None  # set_bypass_mode's choice, for the whole class

    def __init__(self, **kwargs: Any) -> None:
        task_class = _clearml().Task
        helper = _clearml("clearml.binding.frameworks.tensorflow_bind").WeightsGradientHistHelper
        if self.bypass_mode():
            warnings.warn(
                "ClearMLSaver: running in bypass mode (ClearML offline: nothing is sent to a server).",
                UserWarning,
                stacklevel=2,
            )
        task = task_class.current_task()
        if task is None:
            names = {key: kwargs.pop(key, None) for key in ("project_name", "task_name")}
            task_type = kwargs.pop("task_type", task_class.TaskTypes.training)
            task = task_class.init(**names, task_type=task_type, **kwargs)
        self._task: Any = task
        self.clearml_logger: Any = task.get_logger()
        self.grad_helper: Any = helper(logger=self.clearml_logger, report_freq=1)

    @classmethod
    def set_bypass_mode(cls, bypass: bool) -> None:
        """Run ClearML offline (``True``: nothing is sent, sessions are kept locally) or not, for the loggers
        made from now on."""
        cls._bypass = bool(bypass)
        _clearml().Task.set_offline(offline_mode=bool(bypass))

    @classmethod
    def bypass_mode(cls) -> bool:
        """Whether ClearML runs offline: as set by :meth:`set_bypass_mode`, else whether ``CI`` is set."""
        return bool(os.environ.get("CI")) if cls._bypass is None else cls._bypass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "clearml_logger":  # not the ClearML logger's to answer
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.clearml_logger, name)

    def get_task(self) -> Any:
        """The ClearML task logged to."""
        return self._task

    def close(self) -> None:
        self.clearml_logger.flush()
        if self._task:
            self._task.close()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


class OutputHandler(KeyedOutputHandler):
    """Report metrics, the transformed output and state attributes as scalars: title ``tag``, series ``name``
    (a nested value: title ``tag/name``, series its key). Arguments as in
    :class:`~cadence.loggers.base.BaseOutputHandler`.

    Example:
        >>> OutputHandler("validation", metric_names=["accuracy"]).tag
        'validation'
    """

    def __call__(self, engine: Engine[Any], logger: ClearMLLogger, event_name: EventName) -> None:
        require_logger(logger, ClearMLLogger, "OutputHandler")
        values = self.collect_keyed(engine)
        step = self.global_step(engine, event_name)
        for key, value in values.items():
            title, series = (key[0], key[1]) if len(key) == 2 else (f"{key[0]}/{key[1]}", "/".join(key[2:]))
            logger.clearml_logger.report_scalar(title=title, series=series, iteration=step, value=value)


class OptimizerParamsHandler(BaseOptimizerParamsHandler):
    """Report ``param_name`` (default ``"lr"``) of every parameter group: title ``[{tag}/]{param_name}``,
    series the group's index.

    Example:
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer, tag="generator").tag
        'generator'
    """

    def __call__(self, engine: Engine[Any], logger: ClearMLLogger, event_name: EventName) -> None:
        require_logger(logger, ClearMLLogger, "OptimizerParamsHandler")
        step = default_global_step(engine, event_name)
        title = f"{self.tag}/{self.param_name}" if self.tag else self.param_name
        for index, group in enumerate(self.optimizer.param_groups):
            logger.clearml_logger.report_scalar(
                title=title, series=str(index), value=float(group[self.param_name]), iteration=step
            )


def _title_series(prefix: str, name: str) -> tuple[str, str]:
    """``fc1.weight`` is title ``{prefix}fc1``, series ``weight``: a plot per module."""
    module, _, parameter = name.partition(".")
    return prefix + module, parameter


def _tag_prefix(tag: str | None) -> str:
    return f"{tag}/" if tag else ""


class _ScalarReport(BaseWeightsScalarHandler):
    def _report(self, logger: ClearMLLogger, kind: str, tensors: Iterable[tuple[str, torch.Tensor]], step: int) -> None:
        prefix = f"{_tag_prefix(self.tag)}{kind}_{getattr(self.reduction, '__name__', 'reduction')}/"
        for name, tensor in tensors:
            title, series = _title_series(prefix, name)
            value = self.reduction(tensor)  # ClearML takes a 0-D tensor as its number
            logger.clearml_logger.report_scalar(title=title, series=series, value=value, iteration=step)


class WeightsScalarHandler(_ScalarReport):
    """Report ``reduction(weight)`` (default: the norm) of each parameter: title
    ``[{tag}/]weights_{reduction}/{module}``, series the parameter's name in it.

    Example:
        >>> [name for name, _ in WeightsScalarHandler(torch.nn.Linear(2, 1), whitelist=["bias"]).weights]
        ['bias']
    """

    def __call__(self, engine: Engine[Any], logger: ClearMLLogger, event_name: EventName) -> None:
        require_logger(logger, ClearMLLogger, "WeightsScalarHandler")
        weights = ((name, p.data) for name, p in self.weights)
        self._report(logger, "weights", weights, default_global_step(engine, event_name))


class GradsScalarHandler(_ScalarReport):
    """Report ``reduction(grad)`` (default: the norm) of each parameter's gradient: title
    ``[{tag}/]grads_{reduction}/{module}``; parameters without a gradient are left out.

    Example:
        >>> GradsScalarHandler(torch.nn.Linear(2, 1), reduction=torch.max).reduction is torch.max
        True
    """

    def __call__(self, engine: Engine[Any], logger: ClearMLLogger, event_name: EventName) -> None:
        require_logger(logger, ClearMLLogger, "GradsScalarHandler")
        grads = ((name, p.grad) for name, p in self.weights if p.grad is not None)
        self._report(logger, "grads", grads, default_global_step(engine, event_name))


def _report_histograms(
    logger: ClearMLLogger, title_prefix: str, tensors: Iterable[tuple[str, torch.Tensor]], step: int
) -> None:
    for name, tensor in tensors:
        title, series = _title_series(title_prefix, name)
        logger.grad_helper.add_histogram(
            title=title, series=series, step=step, hist_data=tensor.detach().cpu().float().numpy()
        )


class WeightsHistHandler(BaseWeightsHandler):
    """Report each parameter's values as a histogram: title ``[{tag}/]weights_{module}``, series the
    parameter's name in it.

    Example:
        >>> WeightsHistHandler(torch.nn.Linear(2, 1), tag="model").tag
        'model'
    """

    def __call__(self, engine: Engine[Any], logger: ClearMLLogger, event_name: EventName) -> None:
        require_logger(logger, ClearMLLogger, "'WeightsHistHandler'")
        weights = ((name, p.data) for name, p in self.weights)
        _report_histograms(logger, f"{_tag_prefix(self.tag)}weights_", weights, default_global_step(engine, event_name))


class GradsHistHandler(BaseWeightsHandler):
    """Report each parameter's gradient as a histogram: title ``[{tag}/]grads_{module}``; parameters without
    a gradient are left out.

    Example:
        >>> len(GradsHistHandler(torch.nn.Linear(2, 1)).weights)
        2
    """

    def __call__(self, engine: Engine[Any], logger: ClearMLLogger, event_name: EventName) -> None:
        require_logger(logger, ClearMLLogger, "'GradsHistHandler'")
        grads = ((name, p.grad) for name, p in self.weights if p.grad is not None)
        _report_histograms(logger, f"{_tag_prefix(self.tag)}grads_", grads, default_global_step(engine, event_name))
