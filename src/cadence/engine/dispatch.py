"""Event dispatch: the table of handlers per event, and firing events through it.

Attaching or removing a handler rebuilds the records of that event; the four events fired on
every iteration get a ready tuple each, so firing one that nobody listens to is a single falsy check.
Which handlers act differently when a run resumes an epoch (:class:`EpochResumable`) is also decided at
attach time, in the records of ``STARTED`` and ``EPOCH_STARTED`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MethodType
from typing import Any

from cadence.engine._handlers import HandlerRecord, bind_handler, check_event_filter, check_resume, describe
from cadence.engine.events import CallableEventWithFilter, EventEnum, Events, EventsList, RemovableEventHandle
from cadence.engine.state import DEFAULT_EVENT_TO_ATTR, State

__all__ = ["EpochResumable", "EventDispatcher", "EventLike"]

EventLike = CallableEventWithFilter | EventsList | str
#: ``wrapper(event_name, handler) -> replacement``, see :meth:`EventDispatcher.wrap_handlers`.
HandlerWrapper = Callable[[CallableEventWithFilter | str, Callable[..., Any]], Callable[..., Any]]

# Slots of the hot-path dispatch table (one per event fired for every iteration).
GET_BATCH_STARTED, GET_BATCH_COMPLETED, ITERATION_STARTED, ITERATION_COMPLETED = range(4)
_HOT_EVENTS = (
    Events.GET_BATCH_STARTED.value,
    Events.GET_BATCH_COMPLETED.value,
    Events.ITERATION_STARTED.value,
    Events.ITERATION_COMPLETED.value,
)
# What the engine passes to handlers of some events, beyond the engine (used to check signatures at attach time).
_EVENT_ARGS: dict[str, tuple[Any, ...]] = {Events.EXCEPTION_RAISED.value: (Exception(),)}
_EVENT_KWARGS: dict[str, dict[str, Any]] = {Events.TERMINATE_SINGLE_EPOCH.value: {"iter_counter": 0}}
# The events a continued run fires again for an epoch that had begun (see EpochResumable).
_EPOCH_START_EVENTS = frozenset({Events.STARTED.value, Events.EPOCH_STARTED.value})


def _event_key(event: CallableEventWithFilter | str) -> str:
    return event.value if isinstance(event, CallableEventWithFilter) else event


class EpochResumable:
    """A handler whose work on ``STARTED``/``EPOCH_STARTED`` must happen once per epoch, even across a resume.

    A run that continues an epoch begun earlier (after :meth:`~cadence.Engine.terminate`, an exception, or
    :meth:`~cadence.Engine.load_state_dict` mid-epoch) fires ``STARTED`` and ``EPOCH_STARTED`` again, as
    Ignite does, with :attr:`~cadence.Engine.resuming_epoch` true. For a handler of those two events that is
    an ``EpochResumable``, or a bound method of one, the engine then calls :meth:`resume_epoch` instead of
    the handler; any other handler is called as usual. The choice is made when the handler is attached:
    handlers of other events, and the iterations, are not affected.

    cadence's metrics (which then keep what they accumulated instead of resetting) and parameter
    schedulers (which keep, or apply again, the epoch's value instead of stepping) are ``EpochResumable``.

    Example:
        >>> from cadence import Engine, Events
        >>> class EpochCounter(EpochResumable):
        ...     def __init__(self):
        ...         self.epochs = 0
        ...     def __call__(self, engine):
        ...         self.epochs += 1
        >>> counter = EpochCounter()
        >>> engine = Engine(lambda engine, batch: None)
        >>> _ = engine.add_event_handler(Events.EPOCH_STARTED, counter)
        >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate())
        >>> _ = engine.run([1, 2, 3], max_epochs=2)  # stops during epoch 1
        >>> _ = engine.run([1, 2, 3], max_epochs=2)  # continues epoch 1, then runs epoch 2
        >>> counter.epochs
        2
    """

    __slots__ = ()

    def resume_epoch(self, engine: Any) -> None:
        """Called as ``resume_epoch(engine)`` instead of this object's ``STARTED``/``EPOCH_STARTED`` handlers
        while the engine resumes an epoch; it does nothing unless overridden (the handler's work for this
        epoch was done before the run stopped).

        Example:
            >>> class AppliedAgain(EpochResumable):
            ...     def __call__(self, engine):
            ...         print("epoch", engine.state.epoch, "starts")
            ...     def resume_epoch(self, engine):
            ...         print("epoch", engine.state.epoch, "resumes")
            >>> from cadence import Engine, Events
            >>> engine = Engine(lambda engine, batch: None)
            >>> _ = engine.add_event_handler(Events.EPOCH_STARTED, AppliedAgain())
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda e: e.terminate())
            >>> _ = engine.run([1, 2], max_epochs=2)
            epoch 1 starts
            >>> _ = engine.run([1, 2], max_epochs=2)
            epoch 1 resumes
            epoch 2 starts
        """


def _resume_call(handler: Callable[..., Any]) -> Callable[[Any], Any] | None:
    """What to call instead of ``handler`` when an epoch is resumed: its (or its owner's) ``resume_epoch``."""
    owner = handler.__self__ if isinstance(handler, MethodType) else handler
    if not isinstance(owner, EpochResumable):
        return None
    return check_resume(owner.resume_epoch, handler)


class EventDispatcher:
    """Registers events and handlers and fires events; the base of :class:`~cadence.Engine`.

    Example:
        >>> from cadence import Engine
        >>> engine = Engine(lambda e, b: b)
        >>> isinstance(engine, EventDispatcher)
        True
    """

    state: State

    def __init__(self) -> None:
        self._event_to_attr: dict[str, str] = dict(DEFAULT_EVENT_TO_ATTR)
        self._allowed_events: dict[str, CallableEventWithFilter | str] = {e.value: e for e in Events}
        #: The last event fired that had handlers: exact inside any handler (Ignite's attribute of the same name).
        self.last_event_name: CallableEventWithFilter | str | None = None
        self._handlers: dict[str, list[HandlerRecord]] = {}
        # Per hot event, its handlers as (call, every, check) triples: empty (falsy) when nobody listens;
        # unpacking a tuple is cheaper than reading a record's attributes.
        # Per hot event: (every, check, calls) groups; consecutive handlers with the same pure ``every``
        # filter share one group, so ten handlers on every=100 cost one modulo per iteration.
        self._hot: list[tuple[tuple[int, Any, tuple[Callable[[Any], Any], ...]], ...]] = [(), (), (), ()]
        # The same handlers as bare calls when none is filtered (the common case), else None.
        self._hot_calls: list[tuple[Callable[[Any], Any], ...] | None] = [None, None, None, None]
        self._handler_wrapper: HandlerWrapper | None = None

    def register_events(
        self, *event_names: str | EventEnum | type[EventEnum], event_to_attr: Mapping[Any, str] | None = None
    ) -> None:
        """Allow custom events on this engine (other engines are not affected).

        Args:
            event_names: strings, :class:`EventEnum` members, or an :class:`EventEnum` class.
            event_to_attr: maps an event to the ``engine.state`` attribute its filters count with; as in
                Ignite, entries for events neither in this call nor registered before are ignored (a library
                may pass one mapping for all its events, registering them one at a time).

        Example:
            >>> class StepEvents(EventEnum):
            ...     OPTIMIZER_STEP = "optimizer_step"
            >>> from cadence import Engine
            >>> engine = Engine(lambda e, b: None)
            >>> engine.register_events(*StepEvents, event_to_attr={StepEvents.OPTIMIZER_STEP: "steps"})
            >>> engine.has_registered_events(StepEvents.OPTIMIZER_STEP)
            True
        """
        found: dict[str, CallableEventWithFilter | str] = {}
        for position, event in enumerate(event_names):
            if isinstance(event, type) and issubclass(event, EventEnum):
                found.update((e.value, e) for e in event)
            elif isinstance(event, CallableEventWithFilter | str):
                if isinstance(event, CallableEventWithFilter) and event.filter is not None:
                    raise ValueError(f"Register the event itself, not a filtered event: {event!r}.")
                found[_event_key(event)] = event
            else:
                raise TypeError(
                    f"Value at {position} of event_names should be a str or EventEnum (or an EventEnum class), "
                    f"got {event!r}."
                )
        if event_to_attr is not None and not isinstance(event_to_attr, Mapping):
            raise ValueError(
                f"Expected event_to_attr to be a dictionary (event -> state attribute name), got {event_to_attr!r}."
            )
        counters: dict[str, str] = {}
        for event, attr in (event_to_attr or {}).items():
            key = _event_key(event)
            if key not in found and key not in self._allowed_events:
                continue
            if not isinstance(attr, str) or not attr.isidentifier():
                raise ValueError(f"event_to_attr must map events to attribute names, got {attr!r} for {event!r}.")
            counters[key] = attr
        self._allowed_events.update(found)  # only now: a refused call registers nothing
        self._event_to_attr.update(counters)
        for attr in counters.values():  # as Ignite: a custom counter exists (at 0) from registration on
            if not hasattr(self.state, attr):
                setattr(self.state, attr, 0)

    def has_registered_events(self, event: CallableEventWithFilter | str) -> bool:
        """Return whether ``event`` can be fired and listened to on this engine."""
        return _event_key(event) in self._allowed_events

    def _check_event(self, event: CallableEventWithFilter | str) -> str:
        if not isinstance(event, CallableEventWithFilter | str):
            raise TypeError(f"Expected an event (e.g. Events.EPOCH_COMPLETED), got {event!r}.")
        key = _event_key(event)
        if key not in self._allowed_events:
            raise ValueError(
                f"Event {event!r} is not a valid event for this Engine: register it first with "
                "engine.register_events(...)."
            )
        return key

    def add_event_handler(
        self, event_name: EventLike, handler: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Call ``handler`` whenever ``event_name`` fires; return a handle that can remove it.

        The handler is called as ``handler(engine, *args, **kwargs)``, or as ``handler(*args, **kwargs)``
        when it cannot take the engine; which one is decided now, and a handler that fits neither is
        refused with a ``TypeError``. Handlers of one event run in the order they were added.

        Example:
            >>> from cadence import Engine
            >>> engine = Engine(lambda e, b: b)
            >>> def announce(message):
            ...     print(message)
            >>> handle = engine.add_event_handler(Events.COMPLETED, announce, "done")
            >>> _ = engine.run([0])
            done
            >>> handle.remove()
        """
        events: list[CallableEventWithFilter | str] = (
            list(event_name) if isinstance(event_name, EventsList) else [event_name]
        )
        records = [self._attach(event, handler, args, kwargs) for event in events]
        return RemovableEventHandle(self, list(records), event_name=event_name, handler=handler)

    def _attach(
        self,
        event: CallableEventWithFilter | str,
        handler: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HandlerRecord:
        key = self._check_event(event)
        event_filter = event.filter if isinstance(event, CallableEventWithFilter) else None
        if event_filter is not None:
            if key not in self._event_to_attr:
                raise ValueError(
                    f"Event {event!r} has a filter but no state counter; register it with "
                    f"event_to_attr={{{key!r}: 'attribute_name'}}."
                )
            if event_filter.custom is not None:
                check_event_filter(event_filter.custom)
        resume = _resume_call(handler) if key in _EPOCH_START_EVENTS else None
        record = bind_handler(
            self,
            handler,
            key.upper(),
            _EVENT_ARGS.get(key, ()),
            _EVENT_KWARGS.get(key, {}),
            args,
            kwargs,
            event_filter,
            resume=resume,
        )
        self._apply_wrapper(record, key)
        self._handlers.setdefault(key, []).append(record)
        self._rebuild(key)
        return record

    def wrap_handlers(self, wrapper: HandlerWrapper) -> None:
        """Call ``wrapper(event, handler)`` in place of every handler, attached now or later.

        ``event`` is the event as registered: an :class:`Events` (or ``EventEnum``) member, or the string
        of a custom event registered as a string.

        For profilers and tracers: ``wrapper`` returns a callable that takes the same arguments as
        ``handler`` (and usually calls it). Lookups and removal still use the original handlers. The
        engine's own bound methods are not wrapped, nor the :meth:`EpochResumable.resume_epoch` calls made
        in place of a handler. One wrapper per engine.

        Example:
            >>> from cadence import Engine
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.on(Events.COMPLETED)(lambda: print("done"))
            >>> def announce(event, handler):
            ...     def wrapped(*args):
            ...         print("calling a handler of", event.name)
            ...         return handler(*args)
            ...     return wrapped
            >>> engine.wrap_handlers(announce)
            >>> _ = engine.run([0])
            calling a handler of COMPLETED
            done
        """
        if not callable(wrapper):
            raise TypeError(f"wrapper must be callable as wrapper(event_name, handler), got {wrapper!r}.")
        if self._handler_wrapper is not None:
            raise ValueError("This engine's handlers are already wrapped; an engine takes one wrapper.")
        self._handler_wrapper = wrapper
        for key, records in self._handlers.items():
            for record in records:
                self._apply_wrapper(record, key)
            self._rebuild(key)

    def _apply_wrapper(self, record: HandlerRecord, key: str) -> None:
        wrapper = self._handler_wrapper
        if wrapper is not None:
            event = self._allowed_events[key]  # as registered: an Events member, or a custom event's string
            record.wrap(lambda handler: wrapper(event, handler))

    def _rebuild(self, key: str) -> None:
        if key in _HOT_EVENTS:
            slot = _HOT_EVENTS.index(key)
            records = tuple(self._handlers.get(key, ()))
            groups: list[tuple[int, Any, list[Callable[[Any], Any]]]] = []
            for r in records:  # merging only neighbours keeps the handlers' order
                if r.check is None and groups and groups[-1][1] is None and groups[-1][0] == r.every:
                    groups[-1][2].append(r.call)
                else:
                    groups.append((r.every, r.check, [r.call]))
            self._hot[slot] = tuple((every, check, tuple(calls)) for every, check, calls in groups)
            unfiltered = all(not r.every and r.check is None for r in records)
            self._hot_calls[slot] = tuple(r.call for r in records) if unfiltered else None
            self._hot_changed()

    def _hot_changed(self) -> None:
        """Called when the handlers of a per-iteration event changed (the engine's hot loop keeps copies)."""

    def remove_handler_records(self, records: Sequence[HandlerRecord]) -> None:
        """Detach exactly these attachments: the records that a
        :class:`~cadence.engine.events.RemovableEventHandle` holds (``handle.remove()`` calls this); records
        already detached are skipped. To detach a handler by itself, use :meth:`remove_event_handler`."""
        gone = {id(record) for record in records}
        for key, attached in self._handlers.items():
            if any(id(record) in gone for record in attached):
                # A new list, so a fire loop that is iterating the old one is not disturbed.
                self._handlers[key] = [r for r in attached if id(r) not in gone]
                self._rebuild(key)

    def on(
        self, event_name: EventLike, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of :meth:`add_event_handler`.

        Example:
            >>> from cadence import Engine
            >>> engine = Engine(lambda e, b: b)
            >>> @engine.on(Events.EPOCH_COMPLETED(every=2))
            ... def every_second_epoch(engine):
            ...     print("epoch", engine.state.epoch)
            >>> _ = engine.run([0], max_epochs=4)
            epoch 2
            epoch 4
        """

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.add_event_handler(event_name, handler, *args, **kwargs)
            return handler

        return decorator

    def has_event_handler(self, handler: Callable[..., Any], event_name: EventLike | None = None) -> bool:
        """Return whether ``handler`` is attached (to ``event_name``, or to any event)."""
        if event_name is None:
            keys: list[str] = list(self._handlers)
        else:
            events: list[CallableEventWithFilter | str] = (
                list(event_name) if isinstance(event_name, EventsList) else [event_name]
            )
            keys = [_event_key(e) for e in events]
        return any(r.handler == handler for key in keys for r in self._handlers.get(key, ()))

    def remove_event_handler(self, handler: Callable[..., Any], event_name: EventLike) -> None:
        """Detach every attachment of ``handler`` to ``event_name``; raise ``ValueError`` if there is none."""
        events: list[CallableEventWithFilter | str] = (
            list(event_name) if isinstance(event_name, EventsList) else [event_name]
        )
        for event in events:
            key = self._check_event(event)
            records = self._handlers.get(key, [])
            kept = [r for r in records if r.handler != handler]
            if len(kept) == len(records):
                raise ValueError(f"Handler {describe(handler)} is not attached to {event!r}.")
            self._handlers[key] = kept
            self._rebuild(key)

    def fire_event(self, event_name: CallableEventWithFilter | str) -> None:
        """Fire a (custom) event now: its handlers run with their filters applied.

        Example:
            >>> from cadence import Engine
            >>> engine = Engine(lambda e, b: e.fire_event("checkpoint_due"))
            >>> engine.register_events("checkpoint_due")
            >>> _ = engine.on("checkpoint_due")(lambda: print("saving"))
            >>> _ = engine.run([0])
            saving
        """
        self._fire(self._check_event(event_name))

    def _fire(self, key: str, *event_args: Any, **event_kwargs: Any) -> None:
        # Run- and epoch-level events are rare: they are recorded even without handlers (as in Ignite).
        self.last_event_name = self._allowed_events[key]
        records = self._handlers.get(key)
        if not records:
            return
        counter = 0
        if key in self._event_to_attr:
            counter = getattr(self.state, self._event_to_attr[key])
        for record in records:
            if record.every and counter % record.every:
                continue
            if record.check is not None and not record.check(self, counter):
                continue
            if event_args or event_kwargs:
                record.call_with(self, event_args, event_kwargs)
            else:
                record.call(self)

    def _fire_hot(self, slot: int, counter: int, event: Events) -> None:
        self.last_event_name = event
        calls = self._hot_calls[slot]
        if calls is not None:
            for call in calls:
                call(self)
            return
        for every, check, group in self._hot[slot]:
            if every and counter % every:
                continue
            if check is not None and not check(self, counter):
                continue
            for call in group:
                call(self)
