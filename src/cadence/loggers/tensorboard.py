"""TensorBoard logging through ``torch.utils.tensorboard`` or ``tensorboardX`` (the optional ``tensorboard``
package), with handlers that write scalars and histograms to the logger's ``SummaryWriter``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cadence.distributed import get_rank
from cadence.engine import Engine
from cadence.loggers.base import BaseWeightsHandler, EventName, default_global_step
from cadence.loggers.logger import BaseLogger
from cadence.loggers.scalars import GradsScalarHandler as _GradsScalarHandler
from cadence.loggers.scalars import OptimizerParamsHandler as _OptimizerParamsHandler
from cadence.loggers.scalars import OutputHandler as _OutputHandler
from cadence.loggers.scalars import WeightsScalarHandler as _WeightsScalarHandler

__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
]


def _summary_writer_class() -> Any:
    try:
        from tensorboardX import SummaryWriter  # type: ignore[import-not-found]  # optional, untyped
    except ImportError:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:  # tensorboard is an optional extra
            raise ModuleNotFoundError(
                "This contrib module requires either tensorboardX or torch.utils.tensorboard with the tensorboard "
                "package: pip install tensorboard (or, in a clone of cadence, pip install -e '.[tensorboard]')."
            ) from error
    return SummaryWriter


class _NullWriter:
    """The writer of ranks other than 0: every ``SummaryWriter`` method exists and does nothing."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _ignore


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


class TensorboardLogger(BaseLogger):
    """Write scalars, histograms (and anything a ``SummaryWriter`` writes) as TensorBoard events.

    The arguments go to ``SummaryWriter`` (``log_dir``, ``flush_secs``, ``comment``...); with no
    ``log_dir`` it picks ``runs/<date>_<host>``. ``writer`` is the ``SummaryWriter`` itself, and the
    logger passes on the writer's methods (``logger.add_image(...)``). Only rank 0 writes: on other
    ranks ``writer`` accepts every call and writes nothing.

    Example:
        >>> import tempfile
        >>> from cadence import Engine, Events
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> with TensorboardLogger(log_dir=tempfile.mkdtemp()) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
        ...                                      output_transform=lambda out: {"loss": out})
        ...     _ = trainer.run([1, 2])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._closed = False
        summary_writer = _summary_writer_class()
        if isinstance(kwargs.get("log_dir"), os.PathLike):
            kwargs["log_dir"] = os.fspath(kwargs["log_dir"])
        if args and isinstance(args[0], os.PathLike):
            args = (os.fspath(args[0]), *args[1:])
        self.writer: Any = summary_writer(*args, **kwargs) if get_rank() == 0 else _NullWriter()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "writer":  # not yet set, or not the writer's to answer
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.writer, name)

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        if self._closed:
            raise ValueError("TensorboardLogger is closed; make a new logger to write more.")
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        self._closed = True
        self.writer.close()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


def _require_tensorboard(logger: Any, handler: str) -> None:
    if not isinstance(logger, TensorboardLogger):
        raise RuntimeError(f"Handler {handler} works only with TensorboardLogger, got {type(logger).__name__}.")


class _TensorboardSink:
    """Scalars go straight to the logger's writer, one ``add_scalar`` each."""

    _label: str

    def _check_logger(self, logger: Any) -> None:
        _require_tensorboard(logger, self._label)

    def _write(self, logger: Any, scalars: dict[str, float], step: int, event_name: EventName) -> None:
        writer = logger.writer  # a TensorboardLogger: _check_logger ran first
        for name, value in scalars.items():
            writer.add_scalar(name, value, step)


class OutputHandler(_TensorboardSink, _OutputHandler):
    """Log metrics, the transformed output and state attributes as ``{tag}/{name}`` scalars (arguments
    as in :class:`~cadence.loggers.base.BaseOutputHandler`).

    Example:
        >>> handler = OutputHandler("validation", metric_names=["accuracy"])
        >>> handler.tag
        'validation'
    """

    _label = "'OutputHandler'"


class OptimizerParamsHandler(_TensorboardSink, _OptimizerParamsHandler):
    """Log ``param_name`` of every parameter group as ``[{tag}/]{param_name}/group_{i}`` scalars.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer).collect()
        {'lr/group_0': 0.1}
    """

    _label = "OptimizerParamsHandler"


class WeightsScalarHandler(_TensorboardSink, _WeightsScalarHandler):
    """Log ``reduction(weight)`` (default: the norm) of each parameter as a scalar.

    Example:
        >>> import torch
        >>> [name for name, _ in WeightsScalarHandler(torch.nn.Linear(2, 1), whitelist=["bias"]).weights]
        ['bias']
    """

    _label = "'WeightsScalarHandler'"


class GradsScalarHandler(_TensorboardSink, _GradsScalarHandler):
    """Log ``reduction(grad)`` (default: the norm) of each parameter's gradient as a scalar.

    Example:
        >>> import torch
        >>> GradsScalarHandler(torch.nn.Linear(2, 1), reduction=torch.max).reduction is torch.max
        True
    """

    _label = "'GradsScalarHandler'"


class WeightsHistHandler(BaseWeightsHandler):
    """Log each parameter's values as a histogram ``[{tag}/]weights/{name}``.

    Example:
        >>> import torch
        >>> WeightsHistHandler(torch.nn.Linear(2, 1), tag="model").tag
        'model'
    """

    def __call__(self, engine: Engine[Any], logger: TensorboardLogger, event_name: EventName) -> None:
        _require_tensorboard(logger, "'WeightsHistHandler'")
        step = default_global_step(engine, event_name)
        prefix = f"{self.tag}/" if self.tag else ""
        for name, parameter in self.weights:
            values = parameter.detach().cpu()
            logger.writer.add_histogram(
                tag=f"{prefix}weights/{name.replace('.', '/')}", values=values, global_step=step
            )


class GradsHistHandler(BaseWeightsHandler):
    """Log each parameter's gradient as a histogram ``[{tag}/]grads/{name}``; parameters without one are skipped.

    Example:
        >>> import torch
        >>> len(GradsHistHandler(torch.nn.Linear(2, 1)).weights)
        2
    """

    def __call__(self, engine: Engine[Any], logger: TensorboardLogger, event_name: EventName) -> None:
        _require_tensorboard(logger, "'GradsHistHandler'")
        step = default_global_step(engine, event_name)
        prefix = f"{self.tag}/" if self.tag else ""
        for name, parameter in self.weights:
            if parameter.grad is not None:
                values = parameter.grad.detach().cpu()
                logger.writer.add_histogram(
                    tag=f"{prefix}grads/{name.replace('.', '/')}", values=values, global_step=step
                )
