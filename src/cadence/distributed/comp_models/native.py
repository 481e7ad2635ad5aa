"""Ignite's ``ignite.distributed.comp_models.native`` import path: the ``torch.distributed`` setting."""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from typing import Any

from cadence.distributed import context, process_group
from cadence.distributed.comp_models.base import ComputationModel as ComputationModel
from cadence.distributed.comp_models.base import _TorchDistributedView
from cadence.distributed.slurm import ddp_environment_from_slurm as _setup_ddp_vars_from_slurm_env  # noqa: F401
from cadence.distributed.slurm import expand_hostlist as _expand_hostlist  # noqa: F401  # Ignite's names

__all__ = ["has_native_dist_support"]

has_native_dist_support = context.has_native_dist_support


class _NativeDistModel(_TorchDistributedView):
    """The setting inside a ``torch.distributed`` process group."""

    name = "native-dist"
    available_backends = context.available_backends()

    @property
    def _init_method(self) -> str | None:
        return process_group.init_method()

    @staticmethod
    def create_from_context() -> _NativeDistModel | None:
        if not context.is_distributed():
            return None
        if "LOCAL_RANK" not in os.environ and context.local_rank_hint() is None:
            warnings.warn(
                "Local rank information for native distributed setting will be initialized as rank % "
                "processes per node, which can differ from the real setup; set os.environ['LOCAL_RANK'] or "
                "call idist.set_local_rank(local_rank).",
                stacklevel=2,
            )
        return _NativeDistModel()

    @staticmethod
    def create_from_backend(
        backend: str,
        init_method: str | None = None,
        world_size: int | None = None,
        rank: int | None = None,
        timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> _NativeDistModel:
        if kwargs:
            raise TypeError(f"Unexpected options {sorted(kwargs)} for a torch.distributed process group.")
        process_group.initialize(backend, init_method=init_method, world_size=world_size, rank=rank, timeout=timeout)
        return _NativeDistModel()
