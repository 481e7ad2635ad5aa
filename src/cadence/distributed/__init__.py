"""Distributed training on ``torch.distributed``: process context, collectives, launching and ``auto_*`` helpers.

Every function works in a single process too, so one script runs unchanged from one process to many.

Example:
    >>> from cadence import distributed as idist
    >>> idist.get_world_size(), idist.all_reduce(2.5), idist.all_gather("a")
    (1, 2.5, ['a'])
"""

from cadence.distributed.auto import DistributedProxySampler, Sharding, auto_dataloader, auto_model, auto_optim
from cadence.distributed.comms import (
    ReduceOp,
    all_gather,
    all_gather_tensors_with_shapes,
    all_reduce,
    barrier,
    broadcast,
    one_rank_first,
    one_rank_only,
)
from cadence.distributed.comp_models import native, registered_computation_models
from cadence.distributed.context import (
    Backend,
    available_backends,
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
    hostname,
    is_distributed,
    model_name,
    set_local_rank,
)
from cadence.distributed.groups import new_group
from cadence.distributed.launcher import (
    DEFAULT_TIMEOUT,
    Parallel,
    ProcessExitedError,
    ProcessFailedError,
    ProcessRaisedError,
    SpawnPicklingError,
    spawn,
)
from cadence.distributed.process_group import finalize, initialize, show_config, sync
from cadence.distributed.sampler import UnpaddedDistributedSampler

from cadence.distributed import utils as utils  # isort: skip  # Ignite's idist.utils, after what it re-exports

__all__ = [
    "Backend",
    "DEFAULT_TIMEOUT",
    "DistributedProxySampler",
    "Parallel",
    "ProcessExitedError",
    "ProcessFailedError",
    "ProcessRaisedError",
    "ReduceOp",
    "Sharding",
    "SpawnPicklingError",
    "UnpaddedDistributedSampler",
    "all_gather",
    "all_gather_tensors_with_shapes",
    "all_reduce",
    "auto_dataloader",
    "auto_model",
    "auto_optim",
    "available_backends",
    "backend",
    "barrier",
    "broadcast",
    "device",
    "finalize",
    "get_local_rank",
    "get_nnodes",
    "get_node_rank",
    "get_nproc_per_node",
    "get_rank",
    "get_world_size",
    "has_hvd_support",
    "has_native_dist_support",
    "has_xla_support",
    "hostname",
    "initialize",
    "is_distributed",
    "model_name",
    "native",
    "new_group",
    "one_rank_first",
    "one_rank_only",
    "registered_computation_models",
    "set_local_rank",
    "show_config",
    "spawn",
    "sync",
]
