"""Visdom logging through the ``visdom`` client (the optional ``visdom`` extra): each logged name is a line plot
of a Visdom server's environment, drawn by a background thread so that the loop does not wait for the server."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from cadence.engine import Engine
from cadence.loggers._service import KeyedOutputHandler, import_client, require_logger
from cadence.loggers.base import (
    BaseOptimizerParamsHandler,
    BaseWeightsScalarHandler,
    EventName,
    GlobalStepTransform,
    Whitelist,
    default_global_step,
    event_label,
)
from cadence.loggers.logger import BaseLogger

__all__ = ["GradsScalarHandler", "OptimizerParamsHandler", "OutputHandler", "VisdomLogger", "WeightsScalarHandler"]


class _InlineExecutor:
    """Runs each submitted call at once, in the caller's thread (``num_workers=0``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, wait: bool = True) -> None:
        return None


class VisdomLogger(BaseLogger):
    """Plot to a Visdom server: every name a handler logs is a line (x: the step, y: the value) in its own window.

    Args:
        server: the server's address (default: ``VISDOM_SERVER_URL``, else ``"localhost"``).
        port: its port (default: ``VISDOM_PORT``, else 8097).
        num_workers: threads that send the plots (the loop does not wait for them); 0 sends them at once,
            in the loop's thread.
        raise_exceptions: raise when a request to the server fails (else Visdom only prints it).
        kwargs: the other arguments of ``visdom.Visdom`` (``env``, ``username``, ``password`` (default:
            ``VISDOM_USERNAME`` and ``VISDOM_PASSWORD``), ``offline=True`` with ``log_to_filename``...).

    ``vis`` is the ``visdom.Visdom`` client. After each handler call the environment is saved on the server.
    A server that cannot be reached is a ``RuntimeError`` at construction. ``close()`` waits for the plots
    still being sent; the windows stay.

    Example:
        >>> import json, tempfile
        >>> from cadence import Engine, Events
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> log_file = tempfile.mkdtemp() + "/visdom.log"
        >>> with VisdomLogger(offline=True, log_to_filename=log_file, num_workers=0) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
        ...                                      output_transform=lambda loss: {"loss": loss})
        ...     _ = trainer.run([1, 2])
        >>> [json.loads(line)[1]["data"][0]["y"] for line in open(log_file) if '"data"' in line]
        [[0.5], [1.0]]
    """

    def __init__(
        self,
        server: str | None = None,
        port: int | None = None,
        num_workers: int = 1,
        raise_exceptions: bool = True,
        **kwargs: Any,
    ) -> None:
        visdom = import_client("visdom", needs="visdom package", package="visdom", extra="visdom")
        server = server if server is not None else os.environ.get("VISDOM_SERVER_URL", "localhost")
        port = port if port is not None else int(os.environ.get("VISDOM_PORT", 8097))
        kwargs.setdefault("username", os.environ.get("VISDOM_USERNAME"))
        kwargs.setdefault("password", os.environ.get("VISDOM_PASSWORD"))
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}.")
        self.vis: Any = visdom.Visdom(server=server, port=port, raise_exceptions=raise_exceptions, **kwargs)
        if not self.vis.offline and not self.vis.check_connection():
            raise RuntimeError(
                f"Failed to connect to Visdom server at {server}:{port}. Did you run python -m visdom.server ?"
            )
        self.executor: ThreadPoolExecutor | _InlineExecutor = (
            ThreadPoolExecutor(max_workers=num_workers) if num_workers > 0 else _InlineExecutor()
        )

    def save_env(self) -> None:
        """Ask the server to save the logger's environment (queued after the plots already sent)."""
        self.executor.submit(self.vis.save, [self.vis.env])

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


class _LinePlots:
    """What the Visdom handlers share: a line window per name, the first value of a name opens it, later ones
    append (``windows`` holds each name's window and options, as in Ignite)."""

    show_legend: bool
    windows: dict[str, dict[str, Any]]

    def _init_plots(self, show_legend: bool) -> None:
        self.show_legend = show_legend
        self.windows = {}

    def add_scalar(self, logger: VisdomLogger, k: str, v: Any, event_name: EventName, global_step: int) -> None:
        """Plot value ``v`` of name ``k`` at ``global_step`` in ``k``'s window (opened by its first value)."""
        y = float(v.item()) if isinstance(v, torch.Tensor) else v
        if k not in self.windows:
            opts = {"title": k, "xlabel": event_label(event_name), "ylabel": k, "showlegend": self.show_legend}
            self.windows[k] = {"win": None, "opts": opts}
        window = self.windows[k]
        future = logger.executor.submit(
            logger.vis.line,
            X=[global_step],
            Y=[y],
            env=logger.vis.env,
            win=window["win"],
            update=None if window["win"] is None else "append",
            opts=window["opts"],
            name=k,
        )
        if window["win"] is None:  # the next point needs the window's id
            window["win"] = future.result()

    def _plot(self, logger: VisdomLogger, values: Mapping[str, Any], event_name: EventName, step: int) -> None:
        for name, value in values.items():
            self.add_scalar(logger, name, value, event_name, step)
        logger.save_env()


class OutputHandler(KeyedOutputHandler, _LinePlots):
    """Plot metrics, the transformed output and state attributes as lines ``{tag}/{name}`` (arguments as in
    :class:`~cadence.loggers.base.BaseOutputHandler`; ``show_legend`` shows each window's legend).

    Example:
        >>> OutputHandler("training", output_transform=lambda loss: loss, show_legend=True).show_legend
        True
    """

    def __init__(
        self,
        tag: str,
        metric_names: str | list[str] | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        global_step_transform: GlobalStepTransform | None = None,
        show_legend: bool = False,
        state_attributes: list[str] | None = None,
    ) -> None:
        super().__init__(tag, metric_names, output_transform, global_step_transform, state_attributes)
        self._init_plots(show_legend)

    def __call__(self, engine: Engine[Any], logger: VisdomLogger, event_name: EventName) -> None:
        require_logger(logger, VisdomLogger, "'OutputHandler'")
        values = {"/".join(key): value for key, value in self.collect_keyed(engine).items()}
        self._plot(logger, values, event_name, self.global_step(engine, event_name))


class OptimizerParamsHandler(BaseOptimizerParamsHandler, _LinePlots):
    """Plot ``param_name`` (default ``"lr"``) of every parameter group as ``[{tag}/]{param_name}/group_{i}``.

    Example:
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> OptimizerParamsHandler(optimizer).collect()
        {'lr/group_0': 0.1}
    """

    def __init__(
        self, optimizer: Optimizer, param_name: str = "lr", tag: str | None = None, show_legend: bool = False
    ) -> None:
        super().__init__(optimizer, param_name, tag)
        self._init_plots(show_legend)

    def __call__(self, engine: Engine[Any], logger: VisdomLogger, event_name: EventName) -> None:
        require_logger(logger, VisdomLogger, "OptimizerParamsHandler")
        self._plot(logger, self.collect(), event_name, default_global_step(engine, event_name))


class WeightsScalarHandler(BaseWeightsScalarHandler, _LinePlots):
    """Plot ``reduction(weight)`` (default: the norm) of each parameter as ``[{tag}/]weights_{reduction}/{name}``.

    Example:
        >>> [name for name, _ in WeightsScalarHandler(torch.nn.Linear(2, 1), whitelist=["weight"]).weights]
        ['weight']
    """

    def __init__(
        self,
        model: nn.Module,
        reduction: Callable[[torch.Tensor], float | torch.Tensor] = torch.norm,
        tag: str | None = None,
        show_legend: bool = False,
        *,
        whitelist: Whitelist | None = None,
    ) -> None:
        super().__init__(model, reduction, tag=tag, whitelist=whitelist)
        self._init_plots(show_legend)

    def __call__(self, engine: Engine[Any], logger: VisdomLogger, event_name: EventName) -> None:
        require_logger(logger, VisdomLogger, "'WeightsScalarHandler'")
        values = self.reduce("weights", ((name, p.data) for name, p in self.weights))
        self._plot(logger, values, event_name, default_global_step(engine, event_name))


class GradsScalarHandler(BaseWeightsScalarHandler, _LinePlots):
    """Plot ``reduction(grad)`` (default: the norm) of each parameter's gradient as
    ``[{tag}/]grads_{reduction}/{name}``; parameters without a gradient are left out.

    Example:
        >>> GradsScalarHandler(torch.nn.Linear(2, 1), tag="model").tag
        'model'
    """

    def __init__(
        self,
        model: nn.Module,
        reduction: Callable[[torch.Tensor], float | torch.Tensor] = torch.norm,
        tag: str | None = None,
        show_legend: bool = False,
        *,
        whitelist: Whitelist | None = None,
    ) -> None:
        super().__init__(model, reduction, tag=tag, whitelist=whitelist)
        self._init_plots(show_legend)

    def __call__(self, engine: Engine[Any], logger: VisdomLogger, event_name: EventName) -> None:
        require_logger(logger, VisdomLogger, "'GradsScalarHandler'")
        grads = ((name, p.grad) for name, p in self.weights if p.grad is not None)
        self._plot(logger, self.reduce("grads", grads), event_name, default_global_step(engine, event_name))
