"""Nested collections of stateful objects: ``{"models": [encoder, {"head": head}], "optimizer": opt}``.

A checkpoint mirrors the nesting of ``to_save``: mappings and lists hold objects, and each object (a leaf:
anything with the method asked for) is replaced by its state. A model wrapped for running (``DataParallel``,
``DistributedDataParallel``, ``torch.compile``) is saved and loaded as the model it wraps (:func:`unwrap`), so
that a checkpoint does not depend on how the model was run.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from torch import nn

from cadence.distributed import get_rank

__all__ = [
    "COMPILED_PREFIX",
    "check_objects",
    "leaves",
    "loadable_state",
    "map_leaves",
    "pair_leaves",
    "state_to_save",
    "unwrap",
]

#: What ``torch.compile``'s wrapper puts before each key of the state of the model it wraps.
COMPILED_PREFIX = "_orig_mod."


def _compiled_class() -> Any:
    # Only present once something was compiled: importing torch._dynamo ourselves would cost seconds.
    module = sys.modules.get("torch._dynamo.eval_frame")
    return getattr(module, "OptimizedModule", None)


def _wrapped(obj: Any) -> Any:
    """The model inside one layer of wrapper, or ``None`` when ``obj`` is no wrapper."""
    if isinstance(obj, nn.DataParallel | nn.parallel.DistributedDataParallel):
        return obj.module
    compiled = _compiled_class()
    if compiled is not None and isinstance(obj, compiled):
        return obj._orig_mod
    return None


def unwrap(obj: Any, *, keep: type | tuple[type, ...] = ()) -> Any:
    """The model that ``obj`` wraps: DataParallel, DistributedDataParallel and ``torch.compile``'s wrapper are
    taken off, layer after layer (a compiled DDP model, a DDP of a compiled model), down to the first object
    that is none of them or is an instance of ``keep``. Checkpoints save and load models through it, so their
    keys carry neither ``module.`` nor ``_orig_mod.``; anything else is returned as it is.

    Example:
        >>> model = nn.Linear(1, 1)
        >>> unwrap(nn.DataParallel(model)) is model
        True
        >>> import torch
        >>> unwrap(torch.compile(nn.DataParallel(model))) is model
        True
        >>> unwrap(torch.compile(nn.DataParallel(model)), keep=nn.DataParallel).module is model
        True
    """
    while not isinstance(obj, keep):
        inner = _wrapped(obj)
        if inner is None:
            return obj
        obj = inner
    return obj


def loadable_state(target: Any, state: Any) -> Any:
    """``state`` as the unwrapped model ``target`` loads it: a model state saved by a tool that kept
    ``torch.compile``'s wrapper (Ignite, older cadence) has every key prefixed with ``_orig_mod.``; when all of
    them are, and ``target``'s own keys are not, the prefix is taken off. Any other state is returned as it is.

    Example:
        >>> import torch
        >>> saved = {"_orig_mod.weight": torch.ones(1, 1), "_orig_mod.bias": torch.zeros(1)}
        >>> sorted(loadable_state(nn.Linear(1, 1), saved))
        ['bias', 'weight']
    """
    if not isinstance(target, nn.Module) or not isinstance(state, Mapping) or not state:
        return state
    if not all(isinstance(key, str) and key.startswith(COMPILED_PREFIX) for key in state):
        return state
    if any(key.startswith(COMPILED_PREFIX) for key in target.state_dict()):
        return state  # a model whose own first module is named _orig_mod
    stripped = OrderedDict((key[len(COMPILED_PREFIX) :], value) for key, value in state.items())
    versions = getattr(state, "_metadata", None)  # the modules' state versions, keyed by module path
    if isinstance(versions, Mapping):  # "_orig_mod" (the wrapped model itself) becomes "", the root
        size = len(COMPILED_PREFIX)
        inner = {path[size:]: version for path, version in versions.items() if f"{path}.".startswith(COMPILED_PREFIX)}
        setattr(stripped, "_metadata", inner)  # noqa: B010  # torch keeps it as an attribute of the state
    return stripped


def _zero_optimizer_class() -> Any:
    # Only present if the user imported it: importing torch.distributed.optim ourselves costs a second.
    module = sys.modules.get("torch.distributed.optim.zero_redundancy_optimizer")
    return getattr(module, "ZeroRedundancyOptimizer", None)


def state_to_save(obj: Any, save_on_rank: int) -> Any:
    """``obj.state_dict()`` of the unwrapped object; a ``ZeroRedundancyOptimizer``'s sharded state is first
    gathered on ``save_on_rank`` (a collective: every rank calls this), and is ``{}`` on the other ranks.

    Example:
        >>> state_to_save(nn.DataParallel(nn.Linear(1, 1)), save_on_rank=0).keys()
        odict_keys(['weight', 'bias'])
    """
    obj = unwrap(obj)
    zero = _zero_optimizer_class()
    if zero is not None and isinstance(obj, zero):
        obj.consolidate_state_dict(to=save_on_rank)
        if get_rank() != save_on_rank:
            return {}
    return obj.state_dict()


def _is_container(node: object) -> bool:
    return isinstance(node, Mapping) or (isinstance(node, Sequence) and not isinstance(node, str | bytes))


def _leaves(tree: Any, method: str, path: str) -> Iterator[tuple[str, Any]]:
    if callable(getattr(tree, method, None)):
        yield path, tree
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _leaves(value, method, f"{path}[{key!r}]" if path else str(key))
    elif _is_container(tree):
        for index, value in enumerate(tree):
            yield from _leaves(value, method, f"{path}[{index}]")
    else:
        raise TypeError(
            f"Object {path!r} ({type(tree).__name__}) should have `{method}` method; give objects with "
            f"{method}() (models, optimizers, engines...), or mappings and lists of them."
        )


def leaves(tree: Any, method: str) -> list[tuple[str, Any]]:
    """``(path, object)`` for each object with a callable ``method`` in the nested ``tree``.

    Example:
        >>> [path for path, _ in leaves({"models": [nn.Linear(1, 1)]}, "state_dict")]
        ['models[0]']
    """
    return list(_leaves(tree, method, ""))


def check_objects(tree: Mapping[str, Any], method: str) -> None:
    """Raise ``TypeError`` unless every object in the nested ``tree`` has a callable ``method``.

    Example:
        >>> check_objects({"a": {"b": 12}}, "state_dict")
        Traceback (most recent call last):
        ...
        TypeError: Object "a['b']" (int) should have `state_dict` method; ...
    """
    for _ in _leaves(tree, method, ""):
        pass


def map_leaves(tree: Any, method: str, func: Callable[[Any], Any]) -> Any:
    """Return ``tree`` with each object (anything with ``method``) replaced by ``func(object)``; mappings
    become dicts, tuples stay tuples, other sequences become lists.

    Example:
        >>> map_leaves({"a": [1.5, {"b": 2.5}]}, "is_integer", lambda x: int(x))
        {'a': [1, {'b': 2}]}
    """
    if callable(getattr(tree, method, None)):
        return func(tree)
    if isinstance(tree, Mapping):
        return {key: map_leaves(value, method, func) for key, value in tree.items()}
    if _is_container(tree):
        mapped = [map_leaves(value, method, func) for value in tree]
        return tuple(mapped) if isinstance(tree, tuple) else mapped
    return func(tree)  # func reports the object that cannot be handled


def pair_leaves(to_load: Any, states: Any, method: str, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Yield ``(path, object, state)`` for each object of ``to_load`` with the state at the same place in ``states``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(1, 1)
        >>> [path for path, _, _ in pair_leaves({"m": [model]}, {"m": [model.state_dict()]}, "load_state_dict")]
        ['m[0]']
    """
    if callable(getattr(to_load, method, None)):
        yield path, to_load, states
    elif isinstance(to_load, Mapping):
        if not isinstance(states, Mapping):
            raise ValueError(f"Checkpoint entry {path!r} is a {type(states).__name__}, expected a mapping.")
        for key, value in to_load.items():
            if key not in states:
                raise ValueError(
                    f"Key {key!r} from x is not found in y: to_load (x) has {key!r}"
                    f"{f' in {path!r}' if path else ''}, the checkpoint (y) holds {sorted(map(str, states))}. "
                    "Load only the objects it has, or use a checkpoint that saved them."
                )
            yield from pair_leaves(value, states[key], method, f"{path}[{key!r}]" if path else str(key))
    elif _is_container(to_load):
        if not _is_container(states) or isinstance(states, Mapping) or len(states) != len(to_load):
            raise ValueError(
                f"Checkpoint entry {path!r} should be a sequence of {len(to_load)} states, got {type(states).__name__}"
                f"{f' of length {len(states)}' if isinstance(states, Sequence) else ''}."
            )
        for index, (value, state) in enumerate(zip(to_load, states, strict=True)):
            yield from pair_leaves(value, state, method, f"{path}[{index}]")
    else:
        raise TypeError(f"Object {path!r} ({type(to_load).__name__}) should have `{method}` method.")
