"""Two small base classes for objects that save their state or reset between runs (Ignite's ``ignite.base``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadence.engine import Engine

__all__ = ["ResettableHandler", "Serializable"]


class ResettableHandler(ABC):
    """A handler that can be attached to an engine and whose accumulated state can be cleared.

    Subclasses implement :meth:`reset` and :meth:`attach`.

    Example:
        >>> class Counter(ResettableHandler):
        ...     def __init__(self):
        ...         self.count = 0
        ...     def reset(self):
        ...         self.count = 0
        ...     def attach(self, engine, *args, **kwargs):
        ...         pass
        >>> counter = Counter(); counter.count = 3; counter.reset(); counter.count
        0
    """

    @abstractmethod
    def reset(self) -> None:
        """Clear the state accumulated so far."""

    @abstractmethod
    def attach(self, engine: Engine[Any], *args: Any, **kwargs: Any) -> None:
        """Register the handler's callbacks on ``engine``."""


class Serializable:
    """An object with ``state_dict()``/``load_state_dict()`` whose loaded state is checked for required keys.

    Subclasses list the keys a state must hold in ``_state_dict_all_req_keys``, and groups of keys of
    which exactly one must be present in ``_state_dict_one_of_opt_keys`` (a tuple of tuples).
    :meth:`load_state_dict` here only validates; subclasses call it, then restore their state.

    Example:
        >>> class Position(Serializable):
        ...     _state_dict_all_req_keys = ("epoch_length",)
        ...     _state_dict_one_of_opt_keys = (("iteration", "epoch"),)
        >>> Position().load_state_dict({"epoch_length": 10, "epoch": 2})
        >>> Position().load_state_dict({"epoch_length": 10})
        Traceback (most recent call last):
        ...
        ValueError: state_dict should contain exactly one of '('iteration', 'epoch')' keys, found none
    """

    _state_dict_all_req_keys: tuple[str, ...] = ()
    _state_dict_one_of_opt_keys: tuple[tuple[str, ...], ...] = ()

    def state_dict(self) -> dict[str, Any]:
        """The object's state; subclasses must implement it.

        Example:
            >>> Serializable().state_dict()
            Traceback (most recent call last):
            ...
            NotImplementedError: Serializable does not implement state_dict()
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement state_dict()")

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Check that ``state_dict`` is a mapping with the required keys; raise ``TypeError``/``ValueError`` if not.

        Example:
            >>> Serializable().load_state_dict([1, 2])
            Traceback (most recent call last):
            ...
            TypeError: Argument state_dict should be a dictionary, but given <class 'list'>
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Argument state_dict should be a dictionary, but given {type(state_dict)}")
        for key in self._state_dict_all_req_keys:
            if key not in state_dict:
                raise ValueError(
                    f"Required state attribute '{key}' is absent in provided state_dict '{list(state_dict)}'"
                )
        groups: tuple[Any, ...] = self._state_dict_one_of_opt_keys
        if groups and isinstance(groups[0], str):  # one flat group written without the outer tuple
            groups = (groups,)
        for group in groups:
            if not group:
                raise ValueError(
                    f"Empty group found in '{type(self).__name__}._state_dict_one_of_opt_keys': "
                    "every group must name at least one state key."
                )
            present = [key for key in group if key in state_dict]
            if len(present) != 1:
                found = ", ".join(repr(key) for key in present) or "none"
                raise ValueError(f"state_dict should contain exactly one of '{tuple(group)}' keys, found {found}")
