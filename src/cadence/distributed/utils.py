"""Ignite's ``ignite.distributed.utils`` import path: the functions of :mod:`cadence.distributed`.

Ignite keeps a module-level computation model (``_model``) that ``sync()`` refreshes; cadence reads
``torch.distributed`` at every call instead, so ``_model`` here is computed on access and ``_set_model``
changes nothing.

Example:
    >>> from cadence.distributed import utils
    >>> utils.get_world_size(), utils.model_name()
    (1, 'serial')
"""

from __future__ import annotations

from typing import Any

from cadence.distributed.comms import (
    all_gather,
    all_gather_tensors_with_shapes,
    all_reduce,
    barrier,
    broadcast,
    one_rank_first,
    one_rank_only,
)
from cadence.distributed.comp_models import registered_computation_models
from cadence.distributed.comp_models.base import ComputationModel, _SerialModel
from cadence.distributed.comp_models.native import _NativeDistModel
from cadence.distributed.context import (
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
from cadence.distributed.groups import rank_not_in_group as _rank_not_in_group  # noqa: F401  # Ignite's helper
from cadence.distributed.launcher import spawn
from cadence.distributed.process_group import finalize, initialize, show_config, sync

__all__ = [
    "backend",
    "broadcast",
    "device",
    "available_backends",
    "model_name",
    "get_world_size",
    "get_rank",
    "get_local_rank",
    "get_nproc_per_node",
    "get_node_rank",
    "get_nnodes",
    "spawn",
    "initialize",
    "finalize",
    "show_config",
    "set_local_rank",
    "all_reduce",
    "all_gather",
    "barrier",
    "hostname",
    "has_xla_support",
    "has_native_dist_support",
    "has_hvd_support",
    "sync",
    "registered_computation_models",
    "one_rank_only",
    "new_group",
    "one_rank_first",
    "all_gather_tensors_with_shapes",
]


def _set_model(model: ComputationModel, temporary: bool = False) -> None:
    """Accepted for Ignite's API: the current model always follows ``torch.distributed``."""


def __getattr__(name: str) -> Any:
    if name == "_model":  # the model of the setting as it is now
        return _NativeDistModel() if is_distributed() else _SerialModel()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
