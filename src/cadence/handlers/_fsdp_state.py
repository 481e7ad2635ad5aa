"""Single-file checkpoints of FSDP2-sharded models and their optimizers: full states, by parameter name.

A model sharded with ``fully_shard`` holds ``DTensor`` shards. Saved to one file, its state is gathered
into full tensors (on the saving rank), and its optimizer's state is keyed by parameter *names*, so
the file loads into the same model sharded over any number of ranks, or not sharded at all. A plain
(non-FSDP) checkpoint loads into a sharded model too. Nothing here imports FSDP: a program that
never sharded a model never pays for it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from cadence.distributed import get_rank
from cadence.distributed.fsdp import is_fsdp_module
from cadence.handlers._state_tree import leaves, map_leaves, state_to_save, unwrap

__all__ = ["full_state", "gather_full_states", "load_by_names", "optimizer_owners", "uses_names"]


def optimizer_owners(tree: Any, method: str = "state_dict") -> dict[int, nn.Module]:
    """``id(optimizer) -> model`` for each optimizer in ``tree`` whose parameters belong to a model in ``tree``
    (the objects of ``tree`` are those with a callable ``method``: ``"load_state_dict"`` when loading).

    Example:
        >>> model = nn.Linear(1, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> optimizer_owners({"m": model, "o": optimizer})[id(optimizer)] is model
        True
    """
    models = [unwrap(obj) for _, obj in leaves(tree, method) if isinstance(unwrap(obj), nn.Module)]
    owners: dict[int, nn.Module] = {}
    for _, obj in leaves(tree, method):
        groups = getattr(obj, "param_groups", None)  # a stand-in (a mock) may have none
        if isinstance(obj, torch.optim.Optimizer) and isinstance(groups, list):
            params = {id(p) for group in groups for p in group["params"]}
            for model in models:
                if any(id(p) in params for p in model.parameters()):
                    owners[id(obj)] = model
                    break
    return owners


def full_state(obj: Any, owners: Mapping[int, nn.Module], save_on_rank: int) -> Any:
    """The full state of a sharded model, or of an optimizer of one (keyed by names); ``None`` for others.

    A collective: every rank calls it. With ``save_on_rank=0`` the full tensors are gathered to CPU
    memory on rank 0 only (the other ranks get ``{}``).

    Example:
        >>> full_state(nn.Linear(1, 1), {}, 0) is None
        True
    """
    target = unwrap(obj)
    owner = owners.get(id(target)) if isinstance(target, torch.optim.Optimizer) else None
    if not (is_fsdp_module(target) or (owner is not None and is_fsdp_module(owner))):
        return None
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=save_on_rank == 0)
    state: Any
    if owner is not None:
        state = get_optimizer_state_dict(owner, target, options=options)
    else:
        state = get_model_state_dict(target, options=options)
    return state if save_on_rank == 0 or get_rank() == save_on_rank else {}


def uses_names(state: Any) -> bool:
    """Whether an optimizer state is keyed by parameter names (as :func:`full_state` saves it).

    Example:
        >>> uses_names({"state": {}, "param_groups": [{"params": ["weight", "bias"]}]})
        True
    """
    if not isinstance(state, Mapping):
        return False
    groups = state.get("param_groups")
    return isinstance(groups, list) and any(
        isinstance(key, str) for group in groups if isinstance(group, Mapping) for key in group.get("params", ())
    )


def load_by_names(target: Any, state: Any, owner: nn.Module | None, strict: bool) -> bool:
    """Load a sharded model, or an optimizer from a by-name state or into a sharded model's optimizer.

    Return ``False`` (nothing done) when the ordinary ``load_state_dict`` applies.

    Example:
        >>> load_by_names(nn.Linear(1, 1), {}, None, strict=True)
        False
    """
    fsdp_model = is_fsdp_module(target)
    fsdp_owner = owner is not None and is_fsdp_module(owner)
    if not (fsdp_model or (isinstance(target, torch.optim.Optimizer) and (fsdp_owner or uses_names(state)))):
        return False
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, strict=strict)
    if fsdp_model:
        set_model_state_dict(target, state, options=options)
        return True
    if owner is None:
        raise ValueError(
            "This optimizer state is keyed by parameter names (saved from an FSDP-sharded model): load it "
            "together with its model in the same to_load, so that the names can be matched."
        )
    if not uses_names(state):
        state = _by_names(target, state, owner)
    set_optimizer_state_dict(owner, target, state, options=options)
    return True


def _by_names(optimizer: torch.optim.Optimizer, state: Mapping[str, Any], owner: nn.Module) -> dict[str, Any]:
    """An index-keyed optimizer state (``torch``'s own) keyed by the names of the parameters instead."""
    names = {id(param): name for name, param in owner.named_parameters()}
    order = [names[id(p)] for group in optimizer.param_groups for p in group["params"]]
    index_to_name = dict(enumerate(order))
    return {
        "state": {index_to_name[key]: value for key, value in state["state"].items()},
        "param_groups": [
            {**group, "params": [index_to_name[key] for key in group["params"]]} for group in state["param_groups"]
        ],
    }


def gather_full_states(to_save: Mapping[str, Any], save_on_rank: int) -> dict[str, Any]:
    """``{name: state}`` of every object of ``to_save`` (nested containers kept) as one file holds them: sharded
    models and their optimizers as full states on ``save_on_rank`` (a collective), ZeRO optimizers consolidated.

    Example:
        >>> gather_full_states({"model": nn.Linear(1, 1)}, 0)["model"]["weight"].shape
        torch.Size([1, 1])
    """
    sharded = "torch.distributed.fsdp" in sys.modules  # else no model can be FSDP-sharded
    owners = optimizer_owners(to_save) if sharded else {}

    def state(obj: Any) -> Any:
        full = full_state(obj, owners, save_on_rank) if sharded else None
        return state_to_save(obj, save_on_rank) if full is None else full

    states: dict[str, Any] = map_leaves(to_save, "state_dict", state)
    return states
