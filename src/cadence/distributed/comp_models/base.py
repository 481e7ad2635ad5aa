"""Ignite's computation models (``ignite.distributed.comp_models.base``): one object per distributed setting.

cadence has a single setting, ``torch.distributed`` itself, and its functions read it live at every call.
The models here are views over those functions, for code written against Ignite's model objects:
``_SerialModel`` outside a process group, ``_NativeDistModel`` (in :mod:`.native`) inside one.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any, ClassVar

import torch

from cadence.distributed import comms, context, groups, launcher, process_group

__all__ = ["ComputationModel"]

# Ignite's test package reads this flag to decide whether to probe Apple's MPS device; cadence needs
# PyTorch 2.3 or newer, so it always holds.
_torch_version_gt_112 = True


class _ModelMeta(ABCMeta):
    # Ignite code sets the local-rank hint as ``ComputationModel._ext_local_rank``; it is the one cadence keeps.
    @property
    def _ext_local_rank(cls) -> int | None:
        return context.local_rank_hint()

    @_ext_local_rank.setter
    def _ext_local_rank(cls, index: int | None) -> None:
        if index is None:
            context.clear_local_rank_hint()
        else:
            context.set_local_rank(index)


class ComputationModel(metaclass=_ModelMeta):
    """The interface of a distributed setting: its ranks and sizes, its device, and its collectives.

    Example:
        >>> from cadence.distributed.comp_models import registered_computation_models
        >>> [model.name for model in registered_computation_models]
        ['serial', 'native-dist']
    """

    name: ClassVar[str]
    available_backends: ClassVar[tuple[str, ...]]

    @abstractmethod
    def get_local_rank(self) -> int:
        """This process's rank on its machine."""

    @abstractmethod
    def get_rank(self) -> int:
        """This process's global rank."""

    @abstractmethod
    def get_world_size(self) -> int:
        """The number of processes."""

    @abstractmethod
    def get_nproc_per_node(self) -> int:
        """Processes per machine."""

    @abstractmethod
    def get_nnodes(self) -> int:
        """The number of machines."""

    @abstractmethod
    def get_node_rank(self) -> int:
        """This machine's index."""

    @abstractmethod
    def device(self) -> torch.device:
        """The device this process computes on."""

    @abstractmethod
    def backend(self) -> str | None:
        """The backend's name, ``None`` without a process group."""

    @abstractmethod
    def finalize(self) -> None:
        """End the setting (destroy the process group)."""

    @abstractmethod
    def all_reduce(self, tensor: Any, op: str = "SUM", group: Any = None) -> Any:
        """Reduce over processes (see :func:`cadence.distributed.all_reduce`)."""

    @abstractmethod
    def all_gather(self, tensor: Any, group: Any = None) -> Any:
        """Gather from processes (see :func:`cadence.distributed.all_gather`)."""

    @abstractmethod
    def broadcast(self, tensor: Any, src: int = 0, safe_mode: bool = False) -> Any:
        """Broadcast from ``src`` (see :func:`cadence.distributed.broadcast`)."""

    @abstractmethod
    def barrier(self) -> None:
        """Wait for every process."""

    @abstractmethod
    def new_group(self, ranks: list[int], **kwargs: Any) -> Any:
        """Make a subgroup of ``ranks``."""

    @staticmethod
    @abstractmethod
    def create_from_context() -> ComputationModel | None:
        """The model of the setting this process is in now, or ``None`` if it is not in this model's setting."""

    @staticmethod
    @abstractmethod
    def create_from_backend(backend: str, **kwargs: Any) -> ComputationModel:
        """Enter this model's setting with ``backend`` (e.g. start a process group) and return its model."""

    @staticmethod
    @abstractmethod
    def spawn(*args: Any, **kwargs: Any) -> Any:
        """Start processes in this model's setting that each run a function."""


class _TorchDistributedView(ComputationModel):
    """Every query and collective answered by cadence's functions, i.e. by ``torch.distributed`` now."""

    def get_local_rank(self) -> int:
        return context.get_local_rank()

    def get_rank(self) -> int:
        return context.get_rank()

    def get_world_size(self) -> int:
        return context.get_world_size()

    def get_nproc_per_node(self) -> int:
        return context.get_nproc_per_node()

    def get_nnodes(self) -> int:
        return context.get_nnodes()

    def get_node_rank(self) -> int:
        return context.get_node_rank()

    def device(self) -> torch.device:
        return context.device()

    def backend(self) -> str | None:
        name = context.backend()
        return None if name is None else name.value

    def finalize(self) -> None:
        process_group.finalize()

    def all_reduce(self, tensor: Any, op: str = "SUM", group: Any = None) -> Any:
        return comms.all_reduce(tensor, op, group)

    def all_gather(self, tensor: Any, group: Any = None) -> Any:
        return comms.all_gather(tensor, group)

    def broadcast(self, tensor: Any, src: int = 0, safe_mode: bool = False) -> Any:
        return comms.broadcast(tensor, src, safe_mode)

    def barrier(self) -> None:
        comms.barrier()

    def new_group(self, ranks: list[int], **kwargs: Any) -> Any:
        return groups.new_group(ranks, **kwargs)

    def _get_max_length(self, x: str, device: torch.device) -> int:
        return comms.all_reduce(len(x), "MAX")

    def _rank_not_in_group(self, group: Any) -> bool:
        return groups.rank_not_in_group(group)

    @staticmethod
    def spawn(
        fn: Any, args: Any, kwargs_dict: Any = None, nproc_per_node: int = 1, backend: str = "gloo", **kwargs: Any
    ) -> list[Any]:
        return launcher.spawn(backend, fn, args, kwargs_dict, nproc_per_node, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend()!r}, world_size={self.get_world_size()})"


class _SerialModel(_TorchDistributedView):
    """The setting without a process group: one process."""

    name = "serial"
    available_backends = ()

    def __init__(self, _backend: str | None = None, **kwargs: Any) -> None:
        super().__init__()

    @staticmethod
    def create_from_context() -> _SerialModel:
        return _SerialModel()

    @staticmethod
    def create_from_backend(backend: str | None = None, **kwargs: Any) -> _SerialModel:
        return _SerialModel()

    @staticmethod
    def spawn(*args: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError("Serial computation model does not implement spawn method; use idist.spawn.")
