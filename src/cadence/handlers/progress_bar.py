"""A tqdm progress bar for an engine: one bar per epoch, with metrics or the output in its postfix."""

from __future__ import annotations

import numbers
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import torch

from cadence.distributed import get_rank
from cadence.engine import CallableEventWithFilter, Engine, Events
from cadence.loggers.logger import BaseLogger

__all__ = ["ProgressBar"]

# The order in which events happen in a run: a bar is updated on one and closed on a later one.
_EVENTS_ORDER = {
    Events.STARTED.value: 0,
    Events.EPOCH_STARTED.value: 1,
    Events.GET_BATCH_STARTED.value: 2,
    Events.GET_BATCH_COMPLETED.value: 2,
    Events.ITERATION_STARTED.value: 2,
    Events.ITERATION_COMPLETED.value: 3,
    Events.EPOCH_COMPLETED.value: 4,
    Events.COMPLETED.value: 5,
}
_ITERATION_EVENTS = {key for key, order in _EVENTS_ORDER.items() if order in (2, 3)}
_EPOCH_EVENTS = {Events.EPOCH_STARTED.value, Events.EPOCH_COMPLETED.value}
_RESERVED_KWARGS = ("total", "leave", "initial", "iterable", "bar_format")


def _tqdm() -> Any:
    try:
        from tqdm.autonotebook import tqdm
    except ImportError:
        raise ModuleNotFoundError(
            "This submodule requires tqdm to be installed. Please install it with the command: \n pip install tqdm"
        ) from None
    return tqdm


def _events_in_run(event: CallableEventWithFilter, engine: Engine[Any]) -> int | None:
    """How many times ``event`` fires in a run (per epoch for iteration events)."""
    if event.value in _ITERATION_EVENTS:
        return engine.state.epoch_length
    if event.value in _EPOCH_EVENTS:
        return engine.state.max_epochs
    return 1


def _scalars(name: str, value: Any, into: dict[str, Any]) -> None:
    """Add ``value`` to a postfix under ``name``, split into ``name_i`` / ``name_key`` parts when it is a collection."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            into[name] = value.item()
        elif value.ndim == 1:
            for index, item in enumerate(value.tolist()):
                into[f"{name}_{index}"] = item
        else:
            warnings.warn(
                f"ProgressBar can show numbers and 1-d tensors only; {name!r} is a tensor of shape "
                f"{tuple(value.shape)}, left out.",
                UserWarning,
                stacklevel=4,
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _scalars(f"{name}_{key}", item, into)
    elif isinstance(value, numbers.Number | str):
        into[name] = value
    elif value is not None:
        warnings.warn(
            f"ProgressBar can show numbers, strings and tensors only; {name!r} is a {type(value).__name__}, left out.",
            UserWarning,
            stacklevel=4,
        )


@dataclass(frozen=True)
class _Show:
    """What one attachment shows, the event that counts its steps and the one that closes it."""

    metric_names: str | list[str] | None
    output_transform: Callable[[Any], Any] | None
    state_attributes: list[str] | None
    event: CallableEventWithFilter
    closing_event: CallableEventWithFilter
    description: str  # the bar's description ("" for the default: Epoch or Iteration)


def _validated_names(metric_names: object, what: str) -> str | list[str] | None:
    if metric_names is None or metric_names == "all":
        return metric_names  # type: ignore[return-value]  # None or the literal "all"
    if (
        isinstance(metric_names, Sequence)
        and not isinstance(metric_names, str)
        and all(isinstance(name, str) for name in metric_names)
    ):
        return list(metric_names)
    raise TypeError(f"{what} should be either a list or equal 'all' (or None), got {metric_names!r}.")


class ProgressBar(BaseLogger):
    """A tqdm bar per epoch showing the iteration count, rate, time left and chosen metrics or output.

    As in Ignite it is a :class:`~cadence.loggers.BaseLogger`: ``with ProgressBar() as bar:`` closes an open
    bar at the end, and ``pbar`` is the bar being drawn (``None`` between bars). Only rank 0 shows anything.
    The bar is drawn also when its stream (``file=``, default ``sys.stderr``) is not a terminal (a log file, a
    pipe), as Ignite does; pass ``disable=None`` to draw it on a terminal only, or ``disable=True`` to switch
    it off.

    Args:
        persist: keep each epoch's finished bar on screen instead of clearing it.
        bar_format: tqdm's ``bar_format`` (``None`` for tqdm's own default).
        tqdm_kwargs: any other tqdm argument (``desc``, ``file``, ``ncols``, ``mininterval``, ``disable``...).

    Example:
        >>> import io
        >>> from cadence import Engine
        >>> stream = io.StringIO()
        >>> trainer = Engine(lambda engine, batch: {"loss": 0.25})
        >>> ProgressBar(persist=True, file=stream, disable=False).attach(trainer, output_transform=lambda o: o)
        >>> _ = trainer.run(range(4))
        >>> "4/4" in stream.getvalue() and "loss=0.25" in stream.getvalue()
        True
    """

    DEFAULT_BAR_FORMAT = "{desc}[{n_fmt}/{total_fmt}] {percentage:3.0f}%|{bar}{postfix} [{elapsed}<{remaining}]"

    def __init__(self, persist: bool = False, bar_format: str | None = DEFAULT_BAR_FORMAT, **tqdm_kwargs: Any) -> None:
        reserved = sorted(set(tqdm_kwargs) & set(_RESERVED_KWARGS))
        if reserved:
            raise TypeError(f"ProgressBar sets {reserved} itself; use persist= for 'leave' and drop the others.")
        #: The tqdm class that draws the bars.
        self.pbar_cls: Any = _tqdm()
        #: The bar being drawn, a ``pbar_cls`` instance (``None`` before the first update and after closing).
        self.pbar: Any = None
        self.persist = persist
        self.bar_format = bar_format
        self.tqdm_kwargs = {"disable": False, **tqdm_kwargs}
        self._desc: str = self.tqdm_kwargs.pop("desc", None) or ""
        self._mininterval = float(self.tqdm_kwargs.get("mininterval", 0.1))
        self._last_postfix = 0.0
        self._warned: set[str] = set()

    def _file(self) -> TextIO:
        file: TextIO | None = self.tqdm_kwargs.get("file")
        return file if file is not None else sys.stderr

    @property
    def enabled(self) -> bool:
        """Whether this process draws the bar: rank 0, and not disabled (``disable=None``: a terminal only)."""
        if get_rank() != 0:
            return False
        disable = self.tqdm_kwargs["disable"]
        if disable is None:
            isatty = getattr(self._file(), "isatty", None)
            return bool(isatty is not None and isatty())
        return not disable

    def attach(  # type: ignore[override]  # Ignite's ProgressBar.attach: what to show, not a log handler
        self,
        engine: Engine[Any],
        metric_names: str | list[str] | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        event_name: CallableEventWithFilter = Events.ITERATION_COMPLETED,
        closing_event_name: CallableEventWithFilter = Events.EPOCH_COMPLETED,
        state_attributes: list[str] | None = None,
    ) -> None:
        """Draw the bar for ``engine``: update it on ``event_name``, close it on ``closing_event_name``.

        Args:
            engine: the engine to follow.
            metric_names: ``"all"`` or names from ``engine.state.metrics`` to show.
            output_transform: turns ``engine.state.output`` into a number or a dict of numbers to show.
            event_name: an iteration event (filters such as ``every=10`` allowed).
            closing_event_name: ``Events.EPOCH_COMPLETED`` (a bar per epoch) or ``Events.COMPLETED``.
            state_attributes: names of ``engine.state`` attributes to show.
        """
        self._attach(engine, metric_names, output_transform, event_name, closing_event_name, state_attributes, "")

    def attach_output_handler(  # type: ignore[override]  # the arguments of Ignite's progress-bar output handler
        self,
        engine: Engine[Any],
        event_name: CallableEventWithFilter,
        description: str = "",
        metric_names: str | list[str] | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        closing_event_name: CallableEventWithFilter = Events.EPOCH_COMPLETED,
        state_attributes: list[str] | None = None,
    ) -> None:
        """Draw a bar for ``engine`` as :meth:`attach` does, described by ``description`` (default: the ``desc``
        given to the bar, else ``Epoch`` or ``Iteration``).

        Example:
            >>> import io
            >>> from cadence import Engine
            >>> stream = io.StringIO()
            >>> trainer = Engine(lambda engine, batch: 0.5)
            >>> bar = ProgressBar(file=stream)
            >>> bar.attach_output_handler(trainer, Events.ITERATION_COMPLETED, "Training", output_transform=float)
            >>> _ = trainer.run(range(2))
            >>> "Training" in stream.getvalue()
            True
        """
        self._attach(
            engine, metric_names, output_transform, event_name, closing_event_name, state_attributes, description
        )

    def attach_opt_params_handler(  # type: ignore[override]  # as Ignite's ProgressBar: attaches nothing
        self, engine: Engine[Any], event_name: CallableEventWithFilter, *args: Any, **kwargs: Any
    ) -> None:
        """Do nothing: a progress bar shows no optimizer parameters (Ignite's ProgressBar has this no-op too);
        show them with ``output_transform`` or ``state_attributes``, or with a logger."""

    def close(self) -> None:
        """Close the bar being drawn, if any (``with ProgressBar() as bar:`` calls this at the end)."""
        self._close(False)

    def _attach(
        self,
        engine: Engine[Any],
        metric_names: str | list[str] | None,
        output_transform: Callable[[Any], Any] | None,
        event_name: CallableEventWithFilter,
        closing_event_name: CallableEventWithFilter,
        state_attributes: list[str] | None,
        description: str,
    ) -> None:
        if not isinstance(engine, Engine):
            raise TypeError(f"ProgressBar.attach needs an Engine, got {type(engine).__name__}.")
        names = _validated_names(metric_names, "metric_names")
        attributes = _validated_names(state_attributes, "state_attributes")
        if isinstance(attributes, str):
            raise ValueError("state_attributes must be a list of names, not 'all'.")
        if output_transform is not None and not callable(output_transform):
            raise TypeError(f"output_transform must be callable, got {output_transform!r}.")
        self._check_events(engine, event_name, closing_event_name)
        if not self.enabled:
            return  # nothing to draw: attach nothing, so the run pays nothing
        show = _Show(names, output_transform, attributes, event_name, closing_event_name, str(description or ""))
        engine.add_event_handler(event_name, self._update, show)
        engine.add_event_handler(closing_event_name, self._close, True)
        for event in (Events.COMPLETED, Events.TERMINATE, Events.INTERRUPT):
            if event != closing_event_name:  # a stopped run does not leave its bar open, nor shows it full
                engine.add_event_handler(event, self._close, False)

    @staticmethod
    def _check_events(engine: Engine[Any], event: object, closing: object) -> None:
        if not isinstance(event, CallableEventWithFilter | str) or not engine.has_registered_events(event):
            raise ValueError(
                f"Logging event {getattr(event, 'name', event)} is not in allowed events for this engine; "
                "use e.g. Events.ITERATION_COMPLETED."
            )
        if not isinstance(closing, CallableEventWithFilter) or closing.value not in _EVENTS_ORDER:
            raise ValueError(f"closing_event_name must be an event such as Events.EPOCH_COMPLETED, got {closing!r}.")
        if closing.filter is not None:
            raise ValueError(f"Closing Event should not be a filtered event, got {closing!r}.")
        if not isinstance(event, CallableEventWithFilter) or event.value not in _EVENTS_ORDER:
            raise ValueError(
                f"event_name must be one of the run's events (e.g. Events.ITERATION_COMPLETED), got {event!r}."
            )
        if _EVENTS_ORDER[event.value] >= _EVENTS_ORDER[closing.value]:
            raise ValueError(f"Logging event {event} should be called before closing event {closing}.")

    def log_message(self, message: str) -> None:
        """Print ``message`` above the bar without breaking it (rank 0 only).

        Example:
            >>> ProgressBar().log_message("epoch 1 done")
            epoch 1 done
        """
        if get_rank() == 0:
            self.pbar_cls.write(message, file=self.tqdm_kwargs.get("file"))

    def _update(self, engine: Engine[Any], show: _Show) -> None:
        total = _events_in_run(show.event, engine)
        if self.pbar is None:
            self.pbar = self.pbar_cls(
                total=total, leave=self.persist, bar_format=self.bar_format, initial=1, **self.tqdm_kwargs
            )
        bar = self.pbar
        desc = show.description or self._desc or ("Iteration" if engine.state.max_epochs == 1 else "Epoch")
        closing_total = _events_in_run(show.closing_event, engine)
        if closing_total and closing_total > 1:
            desc += f" [{engine.state.get_event_attrib_value(show.closing_event)}/{closing_total}]"
        bar.set_description(desc, refresh=False)
        postfix = self._postfix(engine, show)
        if postfix:
            bar.set_postfix(postfix, refresh=False)
        bar.refresh()  # as Ignite: each call draws the count before it, with the latest postfix
        step = engine.state.get_event_attrib_value(show.event)
        if total:
            step = (step - 1) % total + 1
        bar.update(step - bar.n)

    def _close(self, finished: bool) -> None:
        if self.pbar is None:
            return
        if finished and self.pbar.total is not None:
            self.pbar.n = self.pbar.total
        self.pbar.close()
        self.pbar = None

    def _postfix(self, engine: Engine[Any], show: _Show) -> dict[str, Any]:
        postfix: dict[str, Any] = {}
        metrics = engine.state.metrics
        for name in metrics if show.metric_names == "all" else show.metric_names or ():
            if name in metrics:
                _scalars(name, metrics[name], postfix)
            elif name not in self._warned:
                self._warned.add(name)
                warnings.warn(
                    f"ProgressBar: metric {name!r} is not in engine.state.metrics (yet); has {sorted(metrics)}.",
                    stacklevel=2,
                )
        if show.output_transform is not None:
            output = show.output_transform(engine.state.output)
            if isinstance(output, Mapping):
                for key, value in output.items():
                    _scalars(str(key), value, postfix)
            else:
                _scalars("output", output, postfix)
        for attribute in show.state_attributes or ():
            _scalars(attribute, getattr(engine.state, attribute, None), postfix)
        return postfix
