"""Ignite's ``ignite.base`` import path: the :class:`Serializable` and :class:`ResettableHandler` mixins.

Example:
    >>> from cadence.base import Serializable
    >>> Serializable().load_state_dict({})
"""

from cadence.base.mixins import ResettableHandler, Serializable

__all__ = ["ResettableHandler", "Serializable"]
