"""A tqdm progress bar for an engine: one bar per epoch, with metrics or the output in its postfix."""

from __future__ import annotations

import numbers
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import torch
from tqdm.auto import tqdm

from cadence.distributed import get_rank
from cadence.engine import CallableEventWithFilter, Engine, Events

__all__ = ["ProgressBar"]

_ITERATION_EVENTS = {
    Events.ITERATION_STARTED.value,
    Events.ITERATION_COMPLETED.value,
    Events.GET_BATCH_STARTED.value,
    Events.GET_BATCH_COMPLETED.value,
}
_CLOSING_EVENTS = {Events.EPOCH_COMPLETED.value, Events.COMPLETED.value}
_RESERVED_KWARGS = ("total", "leave", "initial", "iterable", "bar_format")


def _scalars(name: str, value: Any, into: dict[str, Any]) -> None:
    """Add ``value`` to a postfix under ``name``, split into ``name_i`` / ``name_key`` parts when it is a collection."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            into[name] = value.item()
        elif value.ndim == 1:
            for index, item in enumerate(value.tolist()):
                into[f"{name}_{index}"] = item
        return  # larger tensors do not fit a progress bar
    if isinstance(value, Mapping):
        for key, item in value.items():
            _scalars(f"{name}_{key}", item, into)
    elif isinstance(value, numbers.Number | str):
        into[name] = value


@dataclass(frozen=True)
class _Show:
    """What one attachment shows, and whether its bar spans the whole run instead of one epoch."""

    metric_names: str | list[str] | None
    output_transform: Callable[[Any], Any] | None
    state_attributes: list[str] | None
    whole_run: bool


def _validated_names(metric_names: object, what: str) -> str | list[str] | None:
    if metric_names is None or metric_names == "all":
        return metric_names  # type: ignore[return-value]  # None or the literal "all"
    if (
        isinstance(metric_names, Sequence)
        and not isinstance(metric_names, str)
        and all(isinstance(name, str) for name in metric_names)
    ):
        return list(metric_names)
    raise ValueError(f"{what} must be None, 'all' or a list of names, got {metric_names!r}.")


class ProgressBar:
    """A tqdm bar per epoch showing the iteration count, rate, time left and chosen metrics or output.

    Only rank 0 shows anything. With tqdm's default ``disable=None`` the bar is silent when its stream
    (``file=``, default ``sys.stderr``) is not a terminal; pass ``disable=False`` to force it on.

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

    DEFAULT_BAR_FORMAT = (
        "{desc}[{n_fmt}/{total_fmt}] {percentage:3.0f}%|{bar}{postfix} [{elapsed}<{remaining}, {rate_fmt}]"
    )

    def __init__(self, persist: bool = False, bar_format: str | None = DEFAULT_BAR_FORMAT, **tqdm_kwargs: Any) -> None:
        reserved = sorted(set(tqdm_kwargs) & set(_RESERVED_KWARGS))
        if reserved:
            raise TypeError(f"ProgressBar sets {reserved} itself; use persist= for 'leave' and drop the others.")
        self.persist = persist
        self.bar_format = bar_format
        self.tqdm_kwargs = {"disable": None, **tqdm_kwargs}
        self._desc: str = self.tqdm_kwargs.pop("desc", None) or "Epoch"
        self._bar: Any = None
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

    def attach(
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
        if not isinstance(engine, Engine):
            raise TypeError(f"ProgressBar.attach needs an Engine, got {type(engine).__name__}.")
        names = _validated_names(metric_names, "metric_names")
        attributes = _validated_names(state_attributes, "state_attributes")
        if isinstance(attributes, str):
            raise ValueError("state_attributes must be a list of names, not 'all'.")
        if output_transform is not None and not callable(output_transform):
            raise TypeError(f"output_transform must be callable, got {output_transform!r}.")
        if not isinstance(event_name, CallableEventWithFilter) or event_name.value not in _ITERATION_EVENTS:
            raise ValueError(
                f"event_name must be an iteration event such as Events.ITERATION_COMPLETED, got {event_name!r}."
            )
        if (
            not isinstance(closing_event_name, CallableEventWithFilter)
            or closing_event_name.value not in _CLOSING_EVENTS
        ):
            raise ValueError(
                f"closing_event_name must be Events.EPOCH_COMPLETED or Events.COMPLETED, got {closing_event_name!r}."
            )
        if not self.enabled:
            return  # nothing to draw: attach nothing, so the run pays nothing
        show = _Show(names, output_transform, attributes, closing_event_name.value == Events.COMPLETED.value)
        engine.add_event_handler(event_name, self._update, show)
        engine.add_event_handler(closing_event_name, self._close, show)
        for event in (Events.COMPLETED, Events.TERMINATE, Events.INTERRUPT):
            if event != closing_event_name:
                engine.add_event_handler(event, self._close, show)

    def log_message(self, message: str) -> None:
        """Print ``message`` above the bar without breaking it (rank 0 only).

        Example:
            >>> ProgressBar().log_message("epoch 1 done")
            epoch 1 done
        """
        if get_rank() == 0:
            tqdm.write(message, file=self.tqdm_kwargs.get("file"))

    def _open(self, engine: Engine[Any], whole_run: bool) -> Any:
        state = engine.state
        total, desc = state.epoch_length, self._desc
        if whole_run:
            total = state.max_iters or (total * state.max_epochs if total and state.max_epochs else None)
        elif state.max_epochs and state.max_epochs > 1:
            desc += f" [{state.epoch}/{state.max_epochs}]"
        self._bar = tqdm(
            total=total,
            leave=self.persist,
            bar_format=self.bar_format,
            desc=desc if self.bar_format is None else f"{desc}: ",  # tqdm's own format adds the ': '
            **self.tqdm_kwargs,
        )
        self._last_postfix = 0.0
        return self._bar

    def _update(self, engine: Engine[Any], show: _Show) -> None:
        bar = self._bar if self._bar is not None else self._open(engine, show.whole_run)
        state = engine.state
        done = state.iteration
        if state.epoch_length and not show.whole_run:
            done = (done - 1) % state.epoch_length + 1
        now = time.monotonic()
        # Building the postfix reads metrics (maybe syncing a device): only as often as tqdm redraws.
        if now - self._last_postfix >= self._mininterval or done == bar.total:
            self._last_postfix = now
            bar.set_postfix(self._postfix(engine, show), refresh=False)
        bar.update(done - bar.n)

    def _close(self, engine: Engine[Any], show: _Show) -> None:
        if self._bar is None:
            return
        self._bar.set_postfix(self._postfix(engine, show), refresh=False)
        self._bar.close()
        self._bar = None

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
