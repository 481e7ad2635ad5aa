"""The handlers that feed any logger through :meth:`BaseLogger.write_scalars
<cadence.loggers.logger.BaseLogger.write_scalars>`: output and metrics, optimizer parameters, and
reductions (norms) of weights and gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cadence.engine import Engine
from cadence.loggers.base import (
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsScalarHandler,
    EventName,
    default_global_step,
    event_label,
)

__all__ = ["GradsScalarHandler", "OptimizerParamsHandler", "OutputHandler", "WeightsScalarHandler"]


class _ScalarLogger(Protocol):
    """What these handlers write to: a :class:`~cadence.loggers.logger.BaseLogger` (which makes them by default)."""

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None: ...


class _ScalarSink:
    """Where a handler's scalars go: ``logger.write_scalars``. A logger's own handlers override both steps."""

    def _check_logger(self, logger: Any) -> None:
        """Refuse a logger this handler cannot write to (checked before anything is computed)."""

    def _write(self, logger: _ScalarLogger, scalars: dict[str, float], step: int, event_name: EventName) -> None:
        logger.write_scalars(scalars, step, event_label(event_name))


class OutputHandler(_ScalarSink, BaseOutputHandler):
    """Log ``engine.state.metrics``, the transformed output and state attributes, each as ``{tag}/{name}``
    (arguments as in :class:`~cadence.loggers.base.BaseOutputHandler`).

    Example:
        >>> handler = OutputHandler("training", output_transform=lambda loss: {"loss": loss})
        >>> handler.tag, handler.metric_names
        ('training', None)
    """

    def __call__(self, engine: Engine[Any], logger: _ScalarLogger, event_name: EventName) -> None:
        self._check_logger(logger)
        scalars = self.collect(engine)
        self._write(logger, scalars, self.global_step(engine, event_name), event_name)


class OptimizerParamsHandler(_ScalarSink, BaseOptimizerParamsHandler):
    """Log ``param_name`` (default ``"lr"``) of every parameter group as ``[{tag}/]{param_name}/group_{i}``.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer, tag="training").collect()
        {'training/lr/group_0': 0.1}
    """

    def __call__(self, engine: Engine[Any], logger: _ScalarLogger, event_name: EventName) -> None:
        self._check_logger(logger)
        self._write(logger, self.collect(), default_global_step(engine, event_name), event_name)


class WeightsScalarHandler(_ScalarSink, BaseWeightsScalarHandler):
    """Log ``reduction(weight)`` (default: the norm) of each parameter as ``[{tag}/]weights_{reduction}/{name}``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> _ = torch.nn.init.ones_(model.weight)
        >>> handler = WeightsScalarHandler(model, whitelist=["weight"])
        >>> handler.reduce("weights", ((name, p.data) for name, p in handler.weights))
        {'weights_norm/weight': 1.4142135381698608}
    """

    def __call__(self, engine: Engine[Any], logger: _ScalarLogger, event_name: EventName) -> None:
        self._check_logger(logger)
        scalars = self.reduce("weights", ((name, p.data) for name, p in self.weights))
        self._write(logger, scalars, default_global_step(engine, event_name), event_name)


class GradsScalarHandler(_ScalarSink, BaseWeightsScalarHandler):
    """Log ``reduction(grad)`` (default: the norm) of each parameter's gradient as
    ``[{tag}/]grads_{reduction}/{name}``. Parameters without a gradient are skipped.

    Example:
        >>> import torch
        >>> handler = GradsScalarHandler(torch.nn.Linear(2, 1), tag="training")
        >>> [name for name, _ in handler.weights]
        ['weight', 'bias']
    """

    def __call__(self, engine: Engine[Any], logger: _ScalarLogger, event_name: EventName) -> None:
        self._check_logger(logger)
        grads = ((name, p.grad) for name, p in self.weights if p.grad is not None)
        self._write(logger, self.reduce("grads", grads), default_global_step(engine, event_name), event_name)
