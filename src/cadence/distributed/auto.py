"""Make a model, optimizer and data loader ready for the current distributed setting."""

from __future__ import annotations

import enum
import warnings
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset

from cadence.distributed.context import device, get_nproc_per_node, get_rank, get_world_size
from cadence.distributed.sampler import DistributedProxySampler, UnpaddedDistributedSampler

__all__ = ["DistributedProxySampler", "Sharding", "auto_dataloader", "auto_model", "auto_optim"]

_DISTRIBUTED_SAMPLERS = (DistributedSampler, UnpaddedDistributedSampler)


class Sharding(enum.Enum):
    """How :func:`auto_dataloader` splits a dataset among ranks.

    ``PAD``: every rank gets the same number of samples, a few repeated if needed (training: DDP needs
    every rank to take the same number of steps). ``EXACT``: every sample goes to exactly one rank and
    ranks may differ by one (evaluation: metrics count each sample once).

    Example:
        >>> Sharding("exact")
        <Sharding.EXACT: 'exact'>
    """

    PAD = "pad"
    EXACT = "exact"


def auto_model(
    model: nn.Module,
    *,
    sync_bn: bool = False,
    strategy: str | None = None,
    shard: Any = None,
    mp_policy: Any = None,
    offload_policy: Any = None,
    **ddp_kwargs: Any,
) -> nn.Module:
    """Move ``model`` to :func:`device` and, when the world size is above 1, wrap it for data parallelism.

    ``strategy="ddp"`` (the default) wraps it in ``DistributedDataParallel``: every rank holds the whole
    model and optimizer. ``strategy="fsdp"`` shards parameters, gradients and optimizer state over the
    ranks with FSDP2 (:func:`cadence.distributed.fsdp.fully_shard_model`): each submodule ``shard``
    picks (default: every direct child with parameters; or a predicate ``(module, name)``, or a set of
    module classes) is one all-gather unit. Build the optimizer after this call, from the returned
    model's parameters.

    Args:
        model: the model; one already wrapped in DDP (or sharded) is only moved.
        sync_bn: convert BatchNorm layers to ``SyncBatchNorm`` (only when distributed).
        strategy: ``"ddp"`` or ``"fsdp"``; ``None`` means ``"ddp"``.
        shard: FSDP only: which submodules are sharded on their own.
        mp_policy: FSDP only: a ``torch.distributed.fsdp.MixedPrecisionPolicy``.
        offload_policy: FSDP only: a ``torch.distributed.fsdp.CPUOffloadPolicy``.
        ddp_kwargs: DDP only: passed on to ``DistributedDataParallel`` (e.g. ``find_unused_parameters=True``).

    Example:
        >>> model = auto_model(nn.Linear(2, 1))
        >>> type(model).__name__, next(model.parameters()).device.type == device().type
        ('Linear', True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"auto_model needs a torch.nn.Module, got {type(model).__name__}.")
    strategy = "ddp" if strategy is None else strategy
    if strategy not in ("ddp", "fsdp"):
        raise ValueError(f"strategy should be 'ddp' or 'fsdp', got {strategy!r}.")
    fsdp_options = {"shard": shard, "mp_policy": mp_policy, "offload_policy": offload_policy}
    if strategy == "ddp" and any(value is not None for value in fsdp_options.values()):
        given = sorted(name for name, value in fsdp_options.items() if value is not None)
        raise ValueError(f"{given} apply to strategy='fsdp' only; pass strategy='fsdp' or leave them out.")
    if strategy == "fsdp" and ddp_kwargs:
        raise ValueError(f"{sorted(ddp_kwargs)} are DistributedDataParallel options; strategy='fsdp' takes none.")
    if offload_policy is None:  # with CPU offload FSDP moves the shards itself
        model = model.to(device())
    if get_world_size() == 1 or isinstance(model, DistributedDataParallel):
        return model
    from cadence.distributed.fsdp import fully_shard_model, is_fsdp_module

    if is_fsdp_module(model):
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]  # untyped in torch
    if strategy == "fsdp":
        return fully_shard_model(model, shard=shard, mp_policy=mp_policy, offload_policy=offload_policy)
    target = device()
    device_ids = [target.index] if target.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, **ddp_kwargs)


def auto_optim(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """Return ``optimizer`` unchanged: with DDP the gradients are already averaged over ranks in ``backward()``.

    It exists so that code written for other backends keeps one call site for the optimizer.

    Example:
        >>> optimizer = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
        >>> auto_optim(optimizer) is optimizer
        True
    """
    if not callable(getattr(optimizer, "step", None)):  # as Ignite, an optimizer-like wrapper is welcome
        raise TypeError(
            f"auto_optim needs a torch.optim.Optimizer, got {type(optimizer).__name__} "
            "(an object used like one, with step(), is welcome too)."
        )
    return optimizer


def auto_dataloader(
    dataset: Dataset[Any], *, sharding: Sharding | str | None = None, seed: int | None = None, **dataloader_kwargs: Any
) -> DataLoader[Any]:
    """Make a ``DataLoader`` that gives this rank its share of ``dataset``.

    When the world size is above 1: ``batch_size`` is the global batch and is divided among the ranks,
    ``num_workers`` among the processes of this node, and a sampler picks this rank's samples:
    ``DistributedSampler`` for ``Sharding.PAD``, :class:`UnpaddedDistributedSampler` for ``Sharding.EXACT``.
    By default ``shuffle=True`` means training (``PAD``) and no shuffle means evaluation (``EXACT``).
    ``pin_memory`` defaults to ``True`` on CUDA. In one process this is a plain ``DataLoader``.
    With ``seed=`` it is :func:`cadence.data.reproducible_dataloader` instead (shuffled unless
    ``shuffle=False``), sharded among the ranks: its order depends only on ``(seed, epoch)`` and a
    resumed run picks up mid-epoch in O(1).

    Example:
        >>> loader = auto_dataloader(list(range(10)), batch_size=4)
        >>> [batch.tolist() for batch in loader]
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
        >>> hasattr(auto_dataloader(list(range(10)), batch_size=4, seed=0).batch_sampler, "resume_from")
        True
    """
    kwargs = dict(dataloader_kwargs)
    chosen = _parse_sharding(sharding, shuffle=seed is not None or bool(kwargs.get("shuffle", False)))
    if "pin_memory" not in kwargs and device().type == "cuda":
        kwargs["pin_memory"] = True
    if seed is not None:
        return _reproducible(dataset, kwargs, chosen, seed)
    world_size = get_world_size()
    if world_size > 1:
        _split_per_rank(kwargs, world_size)
        if not isinstance(dataset, IterableDataset):
            _add_sampler(dataset, kwargs, chosen, world_size)
    return DataLoader(dataset, **kwargs)


def _parse_sharding(sharding: Sharding | str | None, *, shuffle: bool) -> Sharding:
    if sharding is None:
        return Sharding.PAD if shuffle else Sharding.EXACT
    if isinstance(sharding, Sharding):
        return sharding
    try:
        return Sharding(sharding)
    except ValueError:
        raise ValueError(f"Unknown sharding {sharding!r}; use Sharding.PAD/'pad' or Sharding.EXACT/'exact'.") from None


def _reproducible(dataset: Dataset[Any], kwargs: dict[str, Any], sharding: Sharding, seed: int) -> DataLoader[Any]:
    """cadence's reproducible loader, sharded among the ranks like ``DistributedSampler`` (padded)."""
    from cadence.data import reproducible_dataloader  # cadence.data is only needed on this path

    if sharding is Sharding.EXACT and get_world_size() > 1:
        raise ValueError(
            "seed= builds a training loader, padded so that every rank runs the same number of steps; "
            "it cannot use Sharding.EXACT. Drop seed= for an exact evaluation loader."
        )
    world_size = get_world_size()
    if world_size > 1:
        _split_per_rank(kwargs, world_size)
    return reproducible_dataloader(
        dataset,
        kwargs.pop("batch_size", 1),
        shuffle=bool(kwargs.pop("shuffle", True)),
        seed=seed,
        num_replicas=world_size,
        rank=get_rank(),
        **kwargs,
    )


def _split_per_rank(kwargs: dict[str, Any], world_size: int) -> None:
    batch_size = kwargs.get("batch_size", 1)
    if isinstance(batch_size, int) and "batch_size" in kwargs:
        if batch_size < world_size:
            raise ValueError(
                f"batch_size={batch_size} is the global batch and must be at least the world size {world_size}."
            )
        if batch_size % world_size:
            warnings.warn(
                f"batch_size={batch_size} does not divide among {world_size} ranks; "
                f"each rank uses {batch_size // world_size}.",
                stacklevel=3,
            )
        kwargs["batch_size"] = batch_size // world_size
    num_workers = kwargs.get("num_workers", 0)
    if isinstance(num_workers, int) and num_workers > 0:
        nproc = get_nproc_per_node()
        kwargs["num_workers"] = (num_workers + nproc - 1) // nproc


def _check_sampler_ranks(sampler: Any, world_size: int) -> None:
    """Warn (as Ignite) when a given distributed sampler was built for another rank or world size."""
    rank = get_rank()
    if getattr(sampler, "rank", rank) != rank:
        warnings.warn(
            f"Found distributed sampler with rank={sampler.rank}, but process rank is {rank}: this process would "
            "read another rank's samples.",
            UserWarning,
            stacklevel=4,
        )
    if getattr(sampler, "num_replicas", world_size) != world_size:
        warnings.warn(
            f"Found distributed sampler with num_replicas={sampler.num_replicas}, but world size is {world_size}: "
            "some samples would be read by no rank or by several.",
            UserWarning,
            stacklevel=4,
        )


def _add_sampler(dataset: Dataset[Any], kwargs: dict[str, Any], sharding: Sharding, world_size: int) -> None:
    if kwargs.get("batch_sampler") is not None:
        warnings.warn(
            "Found batch_sampler in provided kwargs. Please, make sure that it is compatible with distributed "
            "configuration: auto_dataloader cannot shard a batch sampler among the ranks (pass batch_size to let it).",
            UserWarning,
            stacklevel=3,
        )
        return
    sampler = kwargs.get("sampler")
    if sampler is not None:
        if not isinstance(sampler, _DISTRIBUTED_SAMPLERS):
            raise ValueError(
                f"With {world_size} processes the sampler must split data among ranks; got {type(sampler).__name__}. "
                "Omit sampler (auto_dataloader adds one) or pass a DistributedSampler/UnpaddedDistributedSampler."
            )
        _check_sampler_ranks(sampler, world_size)
        return
    shuffle = bool(kwargs.pop("shuffle", False))
    rank = get_rank()
    if sharding is Sharding.PAD:
        kwargs["sampler"] = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle)
    else:
        kwargs["sampler"] = UnpaddedDistributedSampler(
            dataset,  # type: ignore[arg-type]  # map-style datasets have len(); the sampler checks it
            num_replicas=world_size,
            rank=rank,
            shuffle=shuffle,
        )
