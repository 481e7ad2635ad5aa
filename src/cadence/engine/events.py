"""Events, event filters and the handle returned when a handler is attached.

An event is a string value wrapped in :class:`CallableEventWithFilter`. Calling an event with
``every=``, ``once=``, ``before=``, ``after=`` or ``event_filter=`` returns a *filtered* copy that
compares equal to its base event, so lookups and removals work on either form.
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from types import TracebackType
from typing import Any, Protocol

from cadence.engine._handlers import HandlerRecord, SignatureError
from cadence.engine.state import State as State  # Ignite's ignite.engine.events also offers State

__all__ = [
    "CallableEventWithFilter",
    "EventEnum",
    "EventFilter",
    "Events",
    "EventsList",
    "RemovableEventHandle",
]


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        if name == "once":
            expected = "either be a positive integer or a list of positive integers"
        else:
            expected = "be integer and greater than zero" if minimum else "be integer and greater or equal to zero"
        raise ValueError(f"Argument {name} should {expected}, got {value!r}.")
    return value


def _check_filter_signature(fn: Callable[..., Any]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return
    try:
        sig.bind(None, 0)
    except TypeError:
        error = SignatureError(
            f"Error adding {fn} 'event_filter': takes parameters {list(sig.parameters)} but will be called with "
            "['engine', 'event'] (the engine and the event's counter)."
        )
        raise error from None


class EventFilter:
    """Decides whether a filtered event fires for a given counter value.

    Built by calling an event (``Events.ITERATION_COMPLETED(every=10)``); rarely made directly.
    ``every`` fires when ``counter % every == 0``; ``once`` fires at one counter value or at each
    of a collection of values; ``before`` and ``after`` are exclusive bounds (``after < counter < before``);
    ``every`` combined with them counts from the first counter after ``after`` (``after + 1``,
    ``after + 1 + every``, ...), as Ignite does; ``event_filter`` is a user function ``(engine, counter) -> bool``.

    Example:
        >>> f = EventFilter(every=3, after=4)
        >>> [c for c in range(1, 13) if f(None, c)]
        [5, 8, 11]
        >>> EventFilter(every=3).inline_every, f.inline_every
        (3, None)
    """

    __slots__ = ("after", "before", "custom", "every", "once")

    def __init__(
        self,
        *,
        every: int | None = None,
        once: int | Iterable[int] | None = None,
        before: int | None = None,
        after: int | None = None,
        event_filter: Callable[[Any, int], bool] | None = None,
    ) -> None:
        given = [
            name for name, v in (("every", every), ("once", once), ("event_filter", event_filter)) if v is not None
        ]
        if before is not None or after is not None:
            given.append("before/after")
        allowed_pair = sorted(given) == ["before/after", "every"]
        if len(given) > 1 and not allowed_pair:
            raise ValueError(
                "Only one of the input arguments should be specified, except before, after and every: got "
                f"{' and '.join(given)}; use one of every, once, before/after or event_filter (every may be "
                "combined with before/after)."
            )
        if not given:
            raise ValueError(
                "Only one of the input arguments should be specified, except before, after and every: an event "
                "filter needs one of every, once, before, after or event_filter."
            )
        self.every = _positive_int("every", every) if every is not None else None
        self.once: frozenset[int] | None = None
        if once is not None:
            values = [once] if isinstance(once, int) else list(once)
            if not values:
                raise ValueError(
                    f"Argument once should either be a positive integer or a list of positive integers, got {once!r}."
                )
            self.once = frozenset(_positive_int("once", v) for v in values)
        self.before = _positive_int("before", before, minimum=0) if before is not None else None
        self.after = _positive_int("after", after, minimum=0) if after is not None else None
        if self.before is not None and self.after is not None and self.before <= self.after + 1:
            raise ValueError(
                f"Event filter with after={after} and before={before} can never fire: need before > after + 1."
            )
        if event_filter is not None:
            if not callable(event_filter):
                raise TypeError(
                    "Argument event_filter should be a callable, as event_filter(engine, counter), "
                    f"got {event_filter!r}."
                )
            _check_filter_signature(event_filter)
        self.custom = event_filter

    def __call__(self, engine: Any, counter: int) -> bool:
        """Return whether the event fires for ``counter``."""
        if self.every is not None:
            # alone: the multiples of every; with before/after: after + 1, after + 1 + every, ... (Ignite's rule)
            start = 0 if self.before is None and self.after is None else (self.after or 0) + 1
            if (counter - start) % self.every:
                return False
        if self.once is not None:
            return counter in self.once
        if self.after is not None and counter <= self.after:
            return False
        if self.before is not None and counter >= self.before:
            return False
        if self.custom is not None:
            return bool(self.custom(engine, counter))
        return True

    @property
    def inline_every(self) -> int | None:
        """``every`` when it is the whole filter (the engine tests it inline), else ``None``."""
        pure = self.once is None and self.before is None and self.after is None and self.custom is None
        return self.every if pure else None

    def _settings(self) -> tuple[object, ...]:
        return self.every, self.once, self.before, self.after, self.custom

    # A filter is a value: filters with the same settings are equal. As in Ignite, where
    # ``event(event_filter=fn).filter`` is ``fn`` itself, a filter of a user function (which takes no other
    # setting) also equals that function, and hashes like it, so equal objects hash alike.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventFilter):
            return self._settings() == other._settings()
        if self.custom is not None:
            return bool(self.custom == other)
        return NotImplemented

    def __hash__(self) -> int:
        if self.custom is None:
            return hash(self._settings())
        try:
            return hash(self.custom)
        except TypeError:  # an unhashable callable object: one hash for all keeps equal filters hashing alike
            return hash(EventFilter)

    def __repr__(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in ("every", "once", "before", "after", "custom")]
        return f"EventFilter({', '.join(p for p in parts if not p.endswith('=None'))})"


class CallableEventWithFilter:
    """An event, optionally carrying an :class:`EventFilter`.

    Calling an event returns a filtered copy: ``Events.EPOCH_COMPLETED(every=2)``. The copy is
    equal to (and hashes like) the base event and its string value, and ``|`` joins events into an
    :class:`EventsList`.

    Example:
        >>> e = Events.ITERATION_COMPLETED(every=10)
        >>> e == Events.ITERATION_COMPLETED, e.filter is not None
        (True, True)
    """

    _value_: str
    _name_: str

    def __new__(cls, value: str, event_filter: EventFilter | None = None, name: str | None = None) -> Any:
        # _value_ is set here (not in __init__) so that Enum members and plain filtered copies agree.
        obj = object.__new__(cls)
        obj._value_ = value
        obj._name_ = name if name is not None else value.upper()
        return obj

    def __init__(self, value: str, event_filter: EventFilter | None = None, name: str | None = None) -> None:
        self.filter = event_filter

    @property
    def name(self) -> str:
        """The event's name, e.g. ``"ITERATION_COMPLETED"``."""
        return self._name_

    @property
    def value(self) -> str:
        """The event's string value, e.g. ``"iteration_completed"``; handlers are keyed by it."""
        return self._value_

    def __call__(
        self,
        event_filter: Callable[[Any, int], bool] | None = None,
        every: int | None = None,
        once: int | Iterable[int] | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> CallableEventWithFilter:
        """Return this event filtered; ``every=1`` alone returns the event itself."""
        if every == 1 and event_filter is None and once is None and before is None and after is None:
            return self
        flt = EventFilter(every=every, once=once, before=before, after=after, event_filter=event_filter)
        return CallableEventWithFilter(self._value_, flt, self._name_)

    # Ignite's filter factories, static on every event: fn(engine, event) -> bool for ``event_filter=``.
    @staticmethod
    def every_event_filter(every: int) -> Callable[[Any, int], bool]:
        """A filter true at every ``every``-th event: ``event % every == 0``.

        Example:
            >>> [n for n in range(1, 10) if Events.ITERATION_COMPLETED.every_event_filter(3)(None, n)]
            [3, 6, 9]
        """
        return lambda engine, event: event % every == 0

    @staticmethod
    def once_event_filter(once: int | Iterable[int]) -> Callable[[Any, int], bool]:
        """A filter true at the events numbered in ``once`` (one number or several).

        Example:
            >>> [n for n in range(1, 10) if Events.ITERATION_COMPLETED.once_event_filter([2, 5])(None, n)]
            [2, 5]
        """
        numbers = {once} if isinstance(once, int) else set(once)
        return lambda engine, event: event in numbers

    @staticmethod
    def before_and_after_event_filter(
        before: int | None = None, after: int | None = None
    ) -> Callable[[Any, int], bool]:
        """A filter true strictly between ``after`` and ``before`` (``None``: 0 and no bound, as Ignite).

        Example:
            >>> flt = Events.ITERATION_COMPLETED.before_and_after_event_filter(before=5, after=2)
            >>> [n for n in range(1, 10) if flt(None, n)]
            [3, 4]
        """
        upper = float("inf") if before is None else before
        lower = 0 if after is None else after
        return lambda engine, event: lower < event < upper

    @staticmethod
    def every_before_and_after_event_filter(
        every: int, before: int | None = None, after: int | None = None
    ) -> Callable[[Any, int], bool]:
        """Every ``every``-th event counted from ``after``, strictly between ``after`` and ``before``.

        Example:
            >>> flt = Events.ITERATION_COMPLETED.every_before_and_after_event_filter(2, before=9, after=2)
            >>> [n for n in range(1, 12) if flt(None, n)]
            [3, 5, 7]
        """
        upper = float("inf") if before is None else before
        lower = 0 if after is None else after
        return lambda engine, event: lower < event < upper and (event - lower - 1) % every == 0

    @staticmethod
    def default_event_filter(engine: Any, event: int) -> bool:
        """Ignite's deprecated always-true filter; kept for old code, with a warning.

        Example:
            >>> import warnings
            >>> with warnings.catch_warnings():
            ...     warnings.simplefilter("ignore")
            ...     Events.default_event_filter(None, 3)
            True
        """
        warnings.warn(
            "default_event_filter is deprecated and will be removed. Attach the handler to the event without a "
            "filter instead.",
            UserWarning,
            stacklevel=2,
        )
        return True

    def __or__(self, other: object) -> EventsList:
        return EventsList([self]) | other

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CallableEventWithFilter):
            return self._value_ == other._value_
        if isinstance(other, str):
            return self._value_ == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value_)

    def __repr__(self) -> str:
        suffix = f"({self.filter!r})" if self.filter is not None else ""
        return f"{self._name_}{suffix}"

    __str__ = __repr__


class EventEnum(CallableEventWithFilter, Enum):
    """Base class for custom events; members are callable with filters like the built-in ones.

    Example:
        >>> class BackpropEvents(EventEnum):
        ...     BACKWARD_STARTED = "backward_started"
        >>> BackpropEvents.BACKWARD_STARTED(every=2).filter.every
        2
    """

    def __hash__(self) -> int:
        return hash(self._value_)

    # Defined here, not only on the mixin: Enum would otherwise apply the mixin's repr to the raw value.
    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    __str__ = __repr__


class Events(EventEnum):
    """The events an :class:`~cadence.Engine` fires, in Ignite's order.

    ``STARTED``, then for each epoch ``EPOCH_STARTED``, for each iteration ``GET_BATCH_STARTED``,
    ``GET_BATCH_COMPLETED``, ``ITERATION_STARTED``, ``ITERATION_COMPLETED``, then ``EPOCH_COMPLETED``;
    at the end ``COMPLETED``. Also ``DATALOADER_STOP_ITERATION``, ``EXCEPTION_RAISED``, ``TERMINATE``,
    ``TERMINATE_SINGLE_EPOCH`` and ``INTERRUPT``.

    Example:
        >>> Events.EPOCH_COMPLETED.value
        'epoch_completed'
        >>> len(Events.STARTED | Events.COMPLETED)
        2
    """

    EPOCH_STARTED = "epoch_started"
    EPOCH_COMPLETED = "epoch_completed"
    STARTED = "started"
    COMPLETED = "completed"
    ITERATION_STARTED = "iteration_started"
    ITERATION_COMPLETED = "iteration_completed"
    EXCEPTION_RAISED = "exception_raised"
    GET_BATCH_STARTED = "get_batch_started"
    GET_BATCH_COMPLETED = "get_batch_completed"
    DATALOADER_STOP_ITERATION = "dataloader_stop_iteration"
    TERMINATE = "terminate"
    TERMINATE_SINGLE_EPOCH = "terminate_single_epoch"
    INTERRUPT = "interrupt"


class EventsList:
    """Several events joined with ``|``; attaching a handler to it attaches to each.

    Example:
        >>> events = Events.STARTED | Events.EPOCH_COMPLETED(every=2)
        >>> [e.name for e in events]
        ['STARTED', 'EPOCH_COMPLETED']
    """

    def __init__(self, events: Iterable[CallableEventWithFilter] = ()) -> None:
        self._events: list[CallableEventWithFilter] = []
        for event in events:
            self._append(event)

    def _append(self, event: object) -> None:
        if not isinstance(event, CallableEventWithFilter):
            raise TypeError(
                f"Argument event should be Events or CallableEventWithFilter (only events can be joined with |), "
                f"got {event!r}."
            )
        self._events.append(event)

    def __or__(self, other: object) -> EventsList:
        joined = EventsList(self._events)
        if isinstance(other, EventsList):
            for event in other:
                joined._append(event)
        else:
            joined._append(other)
        return joined

    def __iter__(self) -> Iterator[CallableEventWithFilter]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> CallableEventWithFilter:
        return self._events[index]

    def __repr__(self) -> str:
        return " | ".join(repr(e) for e in self._events)


def _weak_or_strong(obj: Callable[..., Any] | None) -> Callable[[], Callable[..., Any] | None]:
    if obj is None:
        return lambda: None
    try:
        return weakref.WeakMethod(obj) if inspect.ismethod(obj) else weakref.ref(obj)
    except TypeError:  # some builtins cannot be weakly referenced
        return lambda: obj


class _HandlerTable(Protocol):
    """What a handle needs of the engine it came from (an :class:`~cadence.engine.dispatch.EventDispatcher`)."""

    def remove_handler_records(self, records: Sequence[HandlerRecord]) -> None: ...


class RemovableEventHandle:
    """Returned by :meth:`Engine.add_event_handler`; ``remove()`` detaches exactly that attachment.

    Also a context manager: the handler is detached when the ``with`` block ends. The handle holds
    only weak references, so it never keeps the engine alive.

    Example:
        >>> from cadence import Engine
        >>> engine = Engine(lambda engine, batch: batch)
        >>> calls = []
        >>> with engine.add_event_handler(Events.ITERATION_COMPLETED, lambda: calls.append(1)):
        ...     _ = engine.run([1, 2])
        >>> _ = engine.run([1, 2])
        >>> len(calls)
        2
    """

    def __init__(
        self,
        engine: _HandlerTable,
        records: Sequence[HandlerRecord],
        *,
        event_name: CallableEventWithFilter | str | EventsList | None = None,
        handler: Callable[..., Any] | None = None,
    ) -> None:
        #: A weak reference to the engine (Ignite's attribute): ``handle.engine()`` is ``None`` once it is gone.
        self.engine = weakref.ref(engine)
        #: The event (or events) the handler was attached to.
        self.event_name = event_name
        #: A weak reference to the handler where it allows one, else a callable that returns it.
        self.handler: Callable[[], Callable[..., Any] | None] = _weak_or_strong(handler)
        self._records = [weakref.ref(r) for r in records]

    def remove(self) -> None:
        """Detach the handler; a second call does nothing."""
        engine = self.engine()
        if engine is None:
            return
        records = [record for record in (ref() for ref in self._records) if record is not None]
        self._records = []
        engine.remove_handler_records(records)

    def __enter__(self) -> RemovableEventHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()
