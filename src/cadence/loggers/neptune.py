"""Neptune logging through the ``neptune`` client (the optional ``neptune`` extra): the handlers append to the
series of the logger's run (``mode="offline"`` writes only local files, ``mode="debug"`` keeps them in memory),
and :class:`~cadence.handlers.neptune_logger.NeptuneSaver` uploads checkpoints to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cadence._version import __version__
from cadence.engine import Engine
from cadence.loggers._service import KeyedOutputHandler, import_client, require_logger
from cadence.loggers.base import BaseOptimizerParamsHandler, BaseWeightsScalarHandler, EventName, default_global_step
from cadence.loggers.logger import BaseLogger

__all__ = [
    "GradsScalarHandler",
    "NeptuneLogger",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsScalarHandler",
]

VERSION_KEY = "source_code/integrations/cadence"


def _neptune(module: str = "neptune") -> Any:
    return import_client(module, needs="the Neptune client library to be installed", package="neptune", extra="neptune")


class NeptuneLogger(BaseLogger):
    """Log to a Neptune run, made by ``neptune.init_run(api_token=..., project=..., **kwargs)`` and kept as
    ``experiment``; cadence's version is recorded under ``source_code/integrations/cadence``.

    Args:
        api_token: the Neptune API token (default: ``NEPTUNE_API_TOKEN``).
        project: ``"workspace/project"`` (default: ``NEPTUNE_PROJECT``).
        kwargs: the other arguments of ``neptune.init_run`` (``name``, ``tags``, ``mode="offline"``...).

    The run's fields and methods are reachable through the logger: ``logger["params/lr"] = 0.1``,
    ``logger["loss"].append(0.5)``, ``logger.exists("loss")``. ``close()`` stops the run.

    Example:
        >>> import logging, neptune
        >>> from cadence import Engine, Events
        >>> logging.getLogger("neptune").setLevel(logging.WARNING)  # no progress lines when the run stops
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> with NeptuneLogger(mode="debug") as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
        ...                                      output_transform=lambda loss: {"loss": loss})
        ...     _ = trainer.run([1, 2])
        ...     logger["training/loss"].fetch_values().value.tolist()
        [0.5, 1.0]
    """

    def __init__(self, api_token: str | None = None, project: str | None = None, **kwargs: Any) -> None:
        run = _neptune().init_run(api_token=api_token, project=project, **kwargs)
        run[VERSION_KEY] = __version__
        self.experiment: Any = run

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "experiment":  # not the run's to answer
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.experiment, name)

    def __getitem__(self, key: str) -> Any:
        return self.experiment[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.experiment[key] = value

    def close(self) -> None:
        self.experiment.stop()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


def _append(logger: NeptuneLogger, values: Mapping[str, Any], step: int) -> None:
    for key, value in values.items():
        logger[key].append(value, step=step)


class OutputHandler(KeyedOutputHandler):
    """Append metrics, the transformed output and state attributes to the series ``{tag}/{name}`` (arguments
    as in :class:`~cadence.loggers.base.BaseOutputHandler`).

    Example:
        >>> OutputHandler("validation", metric_names=["accuracy"]).metric_names
        ['accuracy']
    """

    def __call__(self, engine: Engine[Any], logger: NeptuneLogger, event_name: EventName) -> None:
        require_logger(logger, NeptuneLogger, "OutputHandler", TypeError)
        values = {"/".join(key): value for key, value in self.collect_keyed(engine).items()}
        _append(logger, values, self.global_step(engine, event_name))


class OptimizerParamsHandler(BaseOptimizerParamsHandler):
    """Append ``param_name`` (default ``"lr"``) of every parameter group to ``[{tag}/]{param_name}/group_{i}``.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer).collect()
        {'lr/group_0': 0.1}
    """

    def __call__(self, engine: Engine[Any], logger: NeptuneLogger, event_name: EventName) -> None:
        require_logger(logger, NeptuneLogger, "OptimizerParamsHandler", TypeError)
        _append(logger, self.collect(), default_global_step(engine, event_name))


class WeightsScalarHandler(BaseWeightsScalarHandler):
    """Append ``reduction(weight)`` (default: the norm) of each parameter to
    ``[{tag}/]weights_{reduction}/{name}``. As in Ignite, parameters without a gradient (frozen) are left out.

    Example:
        >>> import torch
        >>> [name for name, _ in WeightsScalarHandler(torch.nn.Linear(2, 1), whitelist=["bias"]).weights]
        ['bias']
    """

    def __call__(self, engine: Engine[Any], logger: NeptuneLogger, event_name: EventName) -> None:
        require_logger(logger, NeptuneLogger, "WeightsScalarHandler", TypeError)
        weights = ((name, p.data) for name, p in self.weights if p.grad is not None)
        _append(logger, self.reduce("weights", weights), default_global_step(engine, event_name))


class GradsScalarHandler(BaseWeightsScalarHandler):
    """Append ``reduction(grad)`` (default: the norm) of each parameter's gradient to
    ``[{tag}/]grads_{reduction}/{name}``; parameters without a gradient are left out.

    Example:
        >>> import torch
        >>> GradsScalarHandler(torch.nn.Linear(2, 1), reduction=torch.max).reduction is torch.max
        True
    """

    def __call__(self, engine: Engine[Any], logger: NeptuneLogger, event_name: EventName) -> None:
        require_logger(logger, NeptuneLogger, "GradsScalarHandler", TypeError)
        grads = ((name, p.grad) for name, p in self.weights if p.grad is not None)
        _append(logger, self.reduce("grads", grads), default_global_step(engine, event_name))
