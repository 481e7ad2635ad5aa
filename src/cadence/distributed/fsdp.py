"""FSDP2: shard a model's parameters, gradients and optimizer state over the ranks with PyTorch's ``fully_shard``.

:func:`cadence.distributed.auto_model` calls :func:`fully_shard_model` for ``strategy="fsdp"``. Nothing here
is imported with ``cadence``: ``torch.distributed.fsdp`` takes a second or two to import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from typing import Any

from torch import nn

__all__ = ["ShardPolicy", "default_shard_policy", "fully_shard_model", "is_fsdp_module"]

#: Which submodules get their own ``fully_shard`` (each becomes one all-gather unit): a predicate on
#: ``(module, name)``, or a collection of module classes (every instance is sharded).
ShardPolicy = Callable[[nn.Module, str], bool] | Collection[type[nn.Module]]


def default_shard_policy(root: nn.Module) -> Callable[[nn.Module, str], bool]:
    """The default choice of sharded submodules: every direct child of ``root`` that holds parameters.

    For a transformer whose blocks sit in a ``ModuleList`` pass the block class instead
    (``shard={Block}``): the unit of sharding is then one block, as torchtitan does.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
        >>> policy = default_shard_policy(model)
        >>> [name for name, module in model.named_children() if policy(module, name)]
        ['0', '2']
    """
    children = {id(child) for child in root.children()}

    def policy(module: nn.Module, name: str) -> bool:
        return id(module) in children and any(True for _ in module.parameters())

    return policy


def _as_predicate(shard: ShardPolicy | None, root: nn.Module) -> Callable[[nn.Module, str], bool]:
    if shard is None:
        return default_shard_policy(root)
    if callable(shard) and not isinstance(shard, type):
        return shard
    if isinstance(shard, type):
        shard = [shard]
    classes = tuple(shard)
    if not classes or not all(isinstance(cls, type) and issubclass(cls, nn.Module) for cls in classes):
        raise TypeError(
            f"shard should be a predicate (module, name) -> bool or a collection of nn.Module classes, got {shard!r}."
        )
    return lambda module, name: isinstance(module, classes)


def fully_shard_model(
    model: nn.Module,
    *,
    shard: ShardPolicy | None = None,
    mp_policy: Any = None,
    offload_policy: Any = None,
    reshard_after_forward: bool = True,
) -> nn.Module:
    """Apply FSDP2's ``fully_shard`` to the submodules ``shard`` picks (innermost first), then to ``model``.

    Needs an initialized process group (every rank calls it, with the same model). ``mp_policy`` is a
    ``torch.distributed.fsdp.MixedPrecisionPolicy`` and ``offload_policy`` a ``CPUOffloadPolicy`` (or
    ``None``); ``reshard_after_forward=False`` keeps the gathered parameters until backward (more
    memory, less communication). Returns ``model`` itself, now an ``FSDPModule`` whose parameters are
    ``DTensor`` shards.

    Example:
        >>> from cadence import distributed as idist
        >>> with idist.Parallel("gloo") as parallel:  # a group of one process
        ...     model = fully_shard_model(nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 1)))
        ...     type(next(model.parameters())).__name__
        'DTensor'
    """
    from torch.distributed.fsdp import fully_shard

    if not isinstance(model, nn.Module):
        raise TypeError(f"fully_shard_model needs a torch.nn.Module, got {type(model).__name__}.")
    if is_fsdp_module(model):
        raise ValueError("The model is already sharded with fully_shard; pass the model before sharding.")
    predicate = _as_predicate(shard, model)
    kwargs: dict[str, Any] = {"reshard_after_forward": reshard_after_forward}
    if mp_policy is not None:
        kwargs["mp_policy"] = mp_policy
    if offload_policy is not None:
        kwargs["offload_policy"] = offload_policy
    chosen = [module for name, module in model.named_modules() if module is not model and predicate(module, name)]
    for module in reversed(chosen):  # named_modules is parents first: shard the innermost first
        fully_shard(module, **kwargs)
    fully_shard(model, **kwargs)
    return model


def is_fsdp_module(obj: object) -> bool:
    """Whether ``obj`` was sharded with FSDP2's ``fully_shard`` (``False`` whenever FSDP was never imported).

    Example:
        >>> is_fsdp_module(nn.Linear(1, 1))
        False
    """
    module = sys.modules.get("torch.distributed.fsdp")
    fsdp_module = getattr(module, "FSDPModule", None)
    return fsdp_module is not None and isinstance(obj, fsdp_module)
