"""Placeholders for the experiment-tracking services that cadence does not log to yet (MLflow, Weights &
Biases, ClearML, Neptune, Visdom, Polyaxon): their names import, and building one says so clearly."""

from __future__ import annotations

from typing import Any, NoReturn

from cadence.loggers.base import BaseHandler, EventName
from cadence.loggers.logger import BaseLogger

__all__ = ["UnavailableHandler", "UnavailableLogger"]

_INSTEAD = "Use TensorboardLogger, CSVLogger or JSONLinesLogger from cadence.loggers instead."


def _refuse(what: str, service: str) -> NoReturn:
    raise NotImplementedError(f"{what} ({service}) is not yet available in cadence. {_INSTEAD}")


class UnavailableLogger(BaseLogger):
    """A service logger that cadence does not provide yet: building one raises ``NotImplementedError``.

    Example:
        >>> class SomeServiceLogger(UnavailableLogger):
        ...     service = "Some service"
        >>> SomeServiceLogger(project="demo")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        NotImplementedError: SomeServiceLogger (Some service) is not yet available in cadence. Use ...
    """

    service = "an experiment-tracking service"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse(type(self).__name__, self.service)


class UnavailableHandler(BaseHandler):
    """A handler (or saver) of a service logger that cadence does not provide yet: building one raises.

    Example:
        >>> class SomeServiceSaver(UnavailableHandler):
        ...     service = "Some service"
        >>> SomeServiceSaver()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        NotImplementedError: SomeServiceSaver (Some service) is not yet available in cadence. Use TensorboardLogger, ...
    """

    service = "an experiment-tracking service"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse(type(self).__name__, self.service)

    def __call__(self, engine: Any, logger: Any, event_name: EventName) -> None:  # never built
        _refuse(type(self).__name__, self.service)
