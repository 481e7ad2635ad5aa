"""The engine's run state."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["State", "validate_state_dict"]

_POSITION_KEYS = ("epoch_length", "iteration", "epoch", "max_epochs", "max_iters")

#: Which state counter a built-in event's filters count with, by the event's value (``Events.STARTED.value``
#: is ``"started"``): the state knows events only by these strings, so it needs nothing of the events module.
DEFAULT_EVENT_TO_ATTR: dict[str, str] = {
    "get_batch_started": "iteration",
    "get_batch_completed": "iteration",
    "iteration_started": "iteration",
    "iteration_completed": "iteration",
    "epoch_started": "epoch",
    "epoch_completed": "epoch",
    "started": "epoch",
    "completed": "epoch",
}


class _Event(Protocol):
    """An event as the state sees it: its value (an :class:`~cadence.engine.events.Events` member qualifies)."""

    @property
    def value(self) -> str: ...


class State:
    """What an engine knows about its run: counters, limits, the last batch and output, metrics.

    ``iteration`` and ``epoch`` are 1-based while running and count across epochs. Any keyword
    argument becomes a user attribute, and handlers may add their own (``engine.state.best = 0.9``).

    Example:
        >>> from cadence.engine.events import Events
        >>> state = State(alpha=0.1)
        >>> state.iteration, state.epoch, state.alpha
        (0, 0, 0.1)
        >>> state.get_event_attrib_value(Events.ITERATION_COMPLETED)
        0
    """

    def __init__(self, event_to_attr: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self.iteration = 0
        self.epoch = 0
        self.epoch_length: int | None = None
        self.max_epochs: int | None = None
        self.max_iters: int | None = None
        self.output: Any = None
        self.batch: Any = None
        self.metrics: dict[str, Any] = {}
        self.dataloader: Iterable[Any] | None = None
        self.seed: int | None = None
        self.times: dict[str, float | None] = {"EPOCH_COMPLETED": None, "COMPLETED": None}  # by event name
        # The engine shares its own mapping here, so custom counters never leak between engines.
        self.event_to_attr: Mapping[str, str] = DEFAULT_EVENT_TO_ATTR if event_to_attr is None else event_to_attr
        for key, value in kwargs.items():
            setattr(self, key, value)

    if TYPE_CHECKING:  # user attributes (engine.state.best = ...) type-check; no runtime magic

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def get_event_attrib_value(self, event: _Event | str) -> int:
        """Return the counter (``iteration``, ``epoch`` or a custom one) that ``event`` counts with.

        Raises:
            RuntimeError: (also a ``KeyError``) the event has no counter (register it with ``event_to_attr``).
        """
        key = event if isinstance(event, str) else event.value
        try:
            attr = self.event_to_attr[key]
        except KeyError:
            raise _UnknownEventError(
                f"Unknown event name {event!r}: it has no state counter; register it with "
                f"engine.register_events(..., event_to_attr={{event: 'attribute_name'}})."
            ) from None
        value: int = getattr(self, attr)
        return value

    def __repr__(self) -> str:
        fields = []
        for key, value in vars(self).items():
            if key == "event_to_attr":
                continue
            text = (
                repr(value) if not hasattr(value, "shape") else f"{type(value).__name__} of shape {tuple(value.shape)}"
            )
            fields.append(f"\t{key}: {text}")
        return "State:\n" + "\n".join(fields)


class _UnknownEventError(RuntimeError, KeyError):
    """An event without a state counter: a ``RuntimeError`` as in Ignite, and a ``KeyError`` (a failed lookup)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _check_int(key: str, value: object, minimum: int, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        hint = " to calculate missing 'iteration' or 'epoch' key" if key == "epoch_length" else ""
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"Cannot load engine state_dict: {key} must be {kind}{hint}, got {value!r}.")


def validate_state_dict(
    state_dict: Mapping[str, Any], user_keys: Collection[str], optional_keys: Collection[str]
) -> dict[str, int | None]:
    """Check an engine ``state_dict`` completely and return the position it describes, or raise ``ValueError``.

    The position has ``epoch_length`` (``None`` while unknown), ``iteration``, the completed epochs and
    the iterations into the current one (from the optional ``"position"`` entry, else derived), and the
    limits (``None`` for an engine that never ran).

    Example:
        >>> position = validate_state_dict({"epoch_length": 4, "iteration": 9, "max_epochs": 3}, [], [])
        >>> position["completed_epochs"], position["epoch_iteration"]
        (2, 1)
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Argument state_dict should be a dictionary (a mapping), got {type(state_dict).__name__}.")
    keys = set(state_dict)
    problems = [f"Required state attribute '{key}' is absent" for key in ("epoch_length",) if key not in keys]
    if "iteration" not in keys and "epoch" not in keys:
        problems.append("Required state attribute 'iteration' is absent (or give 'epoch')")
    if "iteration" in keys and "epoch" in keys:
        problems.append("State dictionary should contain only one of 'iteration' or 'epoch' keys")
    if ("max_epochs" in keys) == ("max_iters" in keys):
        problems.append("state_dict should contain exactly one of '('max_epochs', 'max_iters')'")
    problems += [
        f"Required user state attribute '{key}' is absent in provided state_dict"
        for key in user_keys
        if key not in keys
    ]
    unknown = keys - set(_POSITION_KEYS) - {"position"} - set(user_keys) - set(optional_keys)
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)} (user keys must be listed in engine.state_dict_user_keys)")
    if problems:
        raise ValueError(f"Cannot load engine state_dict: {'; '.join(problems)}. Got keys {sorted(keys)}.")
    epoch_length, max_epochs, max_iters = (state_dict.get(k) for k in ("epoch_length", "max_epochs", "max_iters"))
    for key in ("epoch_length", "max_epochs", "max_iters"):
        _check_int(key, state_dict.get(key), 1, optional=True)  # None: not known yet / an engine that never ran
    for key in ("iteration", "epoch"):
        if key in keys:
            _check_int(key, state_dict[key], 0)
    if "epoch" in keys and epoch_length is None:
        raise ValueError(
            "Cannot load engine state_dict: epoch_length must be a positive integer to calculate missing "
            "'iteration' or 'epoch' key."
        )
    iteration: int = state_dict["iteration"] if "iteration" in keys else state_dict["epoch"] * epoch_length
    completed, in_epoch = divmod(iteration, epoch_length) if epoch_length else (0, iteration)
    origin = 0
    if "position" in keys:  # saved when the counters cannot be derived (after terminate_epoch or set_data)
        position = state_dict["position"]
        if not (isinstance(position, list | tuple) and len(position) in (2, 3)):
            raise ValueError(
                f"Cannot load engine state_dict: position must be [epochs, iterations, data origin], got {position!r}."
            )
        for value in position:
            _check_int("position", value, 0)
        completed, in_epoch, origin = (*position, 0)[:3]
    if max_epochs is None and max_iters is None and iteration:
        raise ValueError(f"Cannot load engine state_dict: iteration {iteration} without max_epochs or max_iters.")
    if max_epochs is not None and epoch_length and completed > max_epochs:
        raise ValueError(
            "Cannot load engine state_dict: Argument max_epochs should be greater than or equal to the start epoch "
            f"defined in the state: {max_epochs} vs {completed}."
        )
    if max_iters is not None and iteration > max_iters:
        raise ValueError(
            "Cannot load engine state_dict: Argument max_iters should be greater than or equal to the start "
            f"iteration defined in the state: {max_iters} vs {iteration}."
        )
    return {
        "epoch_length": epoch_length,
        "iteration": iteration,
        "completed_epochs": completed,
        "epoch_iteration": in_epoch,
        "data_origin": origin,
        "max_epochs": max_epochs,
        "max_iters": max_iters,
    }
