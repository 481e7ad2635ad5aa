"""What the experiment-tracker loggers (MLflow, Weights & Biases, ClearML, Neptune, Visdom, Polyaxon) share:
their client is imported only when a logger is built, and their output handlers gather values as key paths
``(tag, name, ...)`` that each service joins its own way (``"tag/loss"``, ``"tag loss"``, a title and a series).
"""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import torch

from cadence.engine import Engine
from cadence.loggers.base import BaseOutputHandler

__all__ = ["KeyPath", "KeyedOutputHandler", "import_client", "require_logger"]

KeyPath = tuple[str, ...]


def import_client(module: str, *, needs: str, package: str, extra: str) -> ModuleType:
    """Import ``module`` of a service's client, or raise ``ModuleNotFoundError`` saying what to install.

    Example:
        >>> import_client("no_such_client", needs="no_such_client to be installed", package="no-such-client",
        ...               extra="demo")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: This contrib module requires no_such_client to be installed. Install it with: ...
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:  # the service's client is an optional extra
        raise ModuleNotFoundError(
            f"This contrib module requires {needs}. Install it with: pip install {package} "
            f"(or pip install -e '.[{extra}]' in a clone of cadence)."
        ) from error


def require_logger(logger: object, logger_type: type, handler: str, error: type[Exception] = RuntimeError) -> None:
    """Raise ``error`` unless ``logger`` is a ``logger_type``: a service's handlers write to its logger only.

    Example:
        >>> require_logger(object(), int, "'OutputHandler'", TypeError)
        Traceback (most recent call last):
        ...
        TypeError: Handler 'OutputHandler' works only with int, got object.
    """
    if not isinstance(logger, logger_type):
        raise error(f"Handler {handler} works only with {logger_type.__name__}, got {type(logger).__name__}.")


class KeyedOutputHandler(BaseOutputHandler):
    """An output handler that gathers its values as ``{(tag, name, ...): value}`` (arguments as in
    :class:`~cadence.loggers.base.BaseOutputHandler`).

    Numbers stay as they are, a 0-D tensor becomes its number, a 1-D tensor, a list or a tuple adds one key
    per item (``(tag, name, "0")``...), a mapping one key per entry. Text is kept when ``keep_text`` is
    true; anything else is skipped with a warning.

    Example:
        >>> class PrintKeys(KeyedOutputHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         print(self.collect_keyed(engine))
        >>> engine = Engine(lambda e, b: None)
        >>> engine.state.metrics = {"acc": 0.5, "per_class": torch.tensor([0.25, 0.75])}
        >>> PrintKeys("validation", metric_names="all")(engine, None, "completed")
        {('validation', 'acc'): 0.5, ('validation', 'per_class', '0'): 0.25, ('validation', 'per_class', '1'): 0.75}
    """

    def collect_keyed(self, engine: Engine[Any], *, keep_text: bool = False) -> dict[KeyPath, Any]:
        """The metrics, transformed output and state attributes of ``engine`` as ``{(tag, name, ...): value}``."""
        values: dict[KeyPath, Any] = {}
        state = engine.state
        metrics = state.metrics
        names = list(metrics) if self.metric_names == "all" else self.metric_names or []
        for name in names:
            if name in metrics:
                self._flatten((self.tag, name), metrics[name], values, keep_text)
            else:
                self._warn_once(
                    name, f"Provided metric name {name!r} is missing in engine's state metrics: {list(metrics)}."
                )
        if self.output_transform is not None:
            output = self.output_transform(state.output)
            items = output.items() if isinstance(output, Mapping) else [("output", output)]
            for key, value in items:
                self._flatten((self.tag, str(key)), value, values, keep_text)
        for attribute in self.state_attributes or []:
            self._flatten((self.tag, attribute), getattr(state, attribute, None), values, keep_text)
        return values

    def _flatten(self, key: KeyPath, value: Any, into: dict[KeyPath, Any], keep_text: bool) -> None:
        if isinstance(value, torch.Tensor) and value.ndim <= 1:
            if value.ndim == 0:
                into[key] = value.item()
            else:
                for index, item in enumerate(value.tolist()):
                    into[(*key, str(index))] = item
        elif isinstance(value, numbers.Number) or (keep_text and isinstance(value, str)):
            into[key] = value
        elif isinstance(value, Mapping):
            for name, item in value.items():
                self._flatten((*key, str(name)), item, into, keep_text)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            for index, item in enumerate(value):
                self._flatten((*key, str(index)), item, into, keep_text)
        else:
            self._warn_once(
                "/".join(key),
                f"Logger output_handler can not log metrics value type {type(value).__name__} "
                f"({'/'.join(key)!r}): it is skipped.",
            )
