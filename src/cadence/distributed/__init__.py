"""Distributed training on ``torch.distributed``: process context, collectives, launching and ``auto_*`` helpers.

Every function works in a single process too, so one script runs unchanged from one process to many.

Example:
    >>> from cadence import distributed as idist
    >>> idist.get_world_size(), idist.all_reduce(2.5), idist.all_gather("a")
    (1, 2.5, ['a'])
"""

from cadence.distributed.auto import Sharding, auto_dataloader, auto_model, auto_optim
from cadence.distributed.comms import (
    ReduceOp,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    one_rank_first,
    one_rank_only,
)
from cadence.distributed.context import (
    Backend,
    backend,
    device,
    get_local_rank,
    get_nnodes,
    get_node_rank,
    get_nproc_per_node,
    get_rank,
    get_world_size,
    has_hvd_support,
    has_native_dist_support,
    has_xla_support,
    is_distributed,
)
from cadence.distributed.launcher import DEFAULT_TIMEOUT, Parallel, ProcessFailedError
from cadence.distributed.sampler import UnpaddedDistributedSampler

__all__ = [
    "Backend",
    "DEFAULT_TIMEOUT",
    "Parallel",
    "ProcessFailedError",
    "ReduceOp",
    "Sharding",
    "UnpaddedDistributedSampler",
    "all_gather",
    "all_reduce",
    "auto_dataloader",
    "auto_model",
    "auto_optim",
    "backend",
    "barrier",
    "broadcast",
    "device",
    "get_local_rank",
    "get_nnodes",
    "get_node_rank",
    "get_nproc_per_node",
    "get_rank",
    "get_world_size",
    "has_hvd_support",
    "has_native_dist_support",
    "has_xla_support",
    "is_distributed",
    "one_rank_first",
    "one_rank_only",
]
