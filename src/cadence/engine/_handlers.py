"""Handler records: a handler bound once, at attach time, to the way it will be called.

Everything that can be decided when a handler is attached (does it take the engine, which extra
keyword arguments can it take, which filter applies) is decided here, so that firing an event is a
loop over ready records.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any, Protocol

__all__ = ["CounterFilter", "HandlerRecord", "SignatureError", "bind_handler", "check_resume", "describe"]


class SignatureError(ValueError, TypeError):
    """A callable cannot take the call it would get: a ``ValueError`` as in Ignite, and a ``TypeError``."""


class CounterFilter(Protocol):
    """What a record needs of an event filter (an :class:`~cadence.engine.events.EventFilter`)."""

    @property
    def inline_every(self) -> int | None:
        """``every`` when it is the whole filter (tested inline), else ``None``."""

    def __call__(self, engine: Any, counter: int) -> bool:
        """Whether the event fires for ``counter``."""


def describe(fn: object) -> str:
    """A short, human name for a callable, used in error messages."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return None


def _binds(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    try:
        sig.bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def check_process_function(fn: object) -> None:
    """Raise a clear error unless ``fn`` can be called as ``fn(engine, batch)``."""
    if fn is None:
        raise ValueError("Engine must be given a processing function in order to run: fn(engine, batch).")
    if not callable(fn):
        raise TypeError(f"process_function must be callable as fn(engine, batch), got {fn!r}.")
    sig = _signature(fn)
    if sig is not None and not _binds(sig, (None, None), {}):
        raise SignatureError(
            f"Error adding {describe(fn)} 'process_function': takes parameters {list(sig.parameters)} but will be "
            "called with ['engine', 'batch']: it must take exactly two positional arguments, the engine and the batch."
        )


def check_event_filter(fn: Callable[..., Any]) -> None:
    """Raise a clear error unless a custom ``event_filter`` can be called as ``fn(engine, counter)``."""
    sig = _signature(fn)
    if sig is not None and not _binds(sig, (None, 0), {}):
        raise SignatureError(f"event_filter {describe(fn)}{sig} cannot be called as event_filter(engine, counter).")


def check_resume(fn: object, handler: Callable[..., Any]) -> Callable[[Any], Any]:
    """Return ``fn`` if it can be called as ``fn(engine)`` in place of ``handler``, else raise a clear error."""
    if not callable(fn):
        raise TypeError(
            f"resume_epoch of {describe(handler)} must be a method callable as resume_epoch(engine), got {fn!r}."
        )
    sig = _signature(fn)
    if sig is not None and not _binds(sig, (None,), {}):
        raise SignatureError(
            f"{describe(fn)}{sig} cannot be called as resume_epoch(engine), in place of {describe(handler)} when "
            "an epoch is resumed; it must take the engine as its only argument."
        )
    return fn


class HandlerRecord:
    """One attachment of a handler to one event.

    ``resume``, when given, is called as ``resume(engine)`` instead of the handler while
    ``engine.resuming_epoch`` is true (see :class:`~cadence.engine.dispatch.EpochResumable`); the choice is
    built into :attr:`call`, so records without it cost nothing more.
    """

    __slots__ = (
        "__weakref__",
        "_original",
        "_target",
        "args",
        "call",
        "check",
        "every",
        "kw_names",
        "kwargs",
        "pass_engine",
        "resume",
        "var_kw",
    )

    call: Callable[[Any], Any]

    def __init__(
        self,
        target: Callable[..., Any] | weakref.WeakMethod[Any],
        pass_engine: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        event_filter: CounterFilter | None,
        sig: inspect.Signature | None,
        resume: Callable[[Any], Any] | None = None,
    ) -> None:
        self._original = self._target = target
        self.resume = resume
        self.pass_engine = pass_engine
        self.args = args
        self.kwargs = kwargs
        inline_every = event_filter.inline_every if event_filter is not None else None
        self.every = inline_every or 0  # a bare every=N is tested inline, anything else through the filter
        self.check = event_filter if event_filter is not None and inline_every is None else None
        params = list(sig.parameters.values()) if sig is not None else []
        self.var_kw = sig is None or any(p.kind is p.VAR_KEYWORD for p in params)
        self.kw_names = frozenset(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        self.call = self._build_call()

    def _build_call(self) -> Callable[[Any], Any]:
        call = _make_call(self._target, self.pass_engine, self.args, self.kwargs)
        resume = self.resume
        if resume is None:
            return call

        def call_or_resume(engine: Any) -> Any:
            return resume(engine) if engine.resuming_epoch else call(engine)

        return call_or_resume

    @property
    def handler(self) -> Callable[..., Any] | None:
        """The handler as the user attached it (``None`` if it was a method of a collected engine)."""
        original = self._original
        return original() if isinstance(original, weakref.WeakMethod) else original

    def wrap(self, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Call ``wrapper(handler)`` instead of the handler from now on (a method of the engine is not wrapped,
        nor is :attr:`resume`)."""
        if not isinstance(self._original, weakref.WeakMethod):
            self._target = wrapper(self._original)
            self.call = self._build_call()

    def call_with(self, engine: Any, event_args: tuple[Any, ...], event_kwargs: dict[str, Any]) -> None:
        """Call the handler with arguments supplied when the event is fired (the general path)."""
        target = self._target
        handler = target() if isinstance(target, weakref.WeakMethod) else target
        if handler is None:
            return
        if not self.var_kw:
            event_kwargs = {k: v for k, v in event_kwargs.items() if k in self.kw_names}
        merged = {**self.kwargs, **event_kwargs}  # a fresh dict: the stored kwargs are never mutated
        if self.pass_engine:
            handler(engine, *event_args, *self.args, **merged)
        else:
            handler(*event_args, *self.args, **merged)


def _make_call(
    target: Callable[..., Any] | weakref.WeakMethod[Any],
    pass_engine: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Callable[[Any], Any]:
    """Build the one-argument callable ``call(engine)`` used on the hot path."""
    if isinstance(target, weakref.WeakMethod):
        weak = target

        def call_weak(engine: Any) -> Any:
            method = weak()
            if method is None:
                return None
            return method(engine, *args, **kwargs) if pass_engine else method(*args, **kwargs)

        return call_weak
    fn = target
    if pass_engine and not args and not kwargs:
        return fn  # the common case, handler(engine): no wrapper at all
    if pass_engine:
        return lambda engine: fn(engine, *args, **kwargs)
    return lambda engine: fn(*args, **kwargs)


def bind_handler(
    engine: Any,
    handler: Callable[..., Any],
    event_name: str,
    event_args: tuple[Any, ...],
    event_kwargs: dict[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    event_filter: CounterFilter | None,
    *,
    resume: Callable[[Any], Any] | None = None,
) -> HandlerRecord:
    """Decide how ``handler`` is called and return its record, or raise a clear ``TypeError``.

    ``resume`` is what to call instead, as ``resume(engine)``, while the engine resumes an epoch.
    """
    if not callable(handler):
        raise TypeError(f"Handler for {event_name} must be callable, got {handler!r}.")
    sig = _signature(handler)
    # Keyword arguments the event itself passes (e.g. iter_counter=) are optional for a handler.
    kwarg_options = [{**kwargs, **event_kwargs}, kwargs] if event_kwargs else [kwargs]
    if sig is None or any(_binds(sig, (engine, *event_args, *args), kw) for kw in kwarg_options):
        pass_engine = True
    elif any(_binds(sig, (*event_args, *args), kw) for kw in kwarg_options):
        pass_engine = False
    else:
        shown_args = ", ".join(["engine", *("<event arg>" for _ in event_args), *(repr(a) for a in args)])
        shown_kwargs = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        raise SignatureError(
            f"Error adding {describe(handler)} to {event_name}: takes parameters {list(sig.parameters)} but will be "
            f"called with ({shown_args}{shown_kwargs}), nor without the engine as the first argument. "
            "Change its signature or the arguments given to add_event_handler."
        )
    target: Callable[..., Any] | weakref.WeakMethod[Any] = handler
    # A bound method of the engine itself would keep the engine alive through its own handler table.
    if isinstance(handler, MethodType) and handler.__self__ is engine:
        target = weakref.WeakMethod(handler)
    return HandlerRecord(target, pass_engine, args, kwargs, event_filter, sig, resume)
