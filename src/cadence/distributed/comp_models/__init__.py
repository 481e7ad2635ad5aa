"""Ignite's ``ignite.distributed.comp_models`` import path.

cadence has one computation model, ``torch.distributed`` itself; see :mod:`cadence.distributed`.

Example:
    >>> from cadence.distributed.comp_models import registered_computation_models
    >>> [model.name for model in registered_computation_models]
    ['serial', 'native-dist']
"""

from __future__ import annotations

from cadence.distributed.comp_models.base import ComputationModel, _SerialModel
from cadence.distributed.comp_models.native import _NativeDistModel
from cadence.distributed.context import has_hvd_support, has_native_dist_support, has_xla_support

__all__ = [
    "ComputationModel",
    "has_hvd_support",
    "has_native_dist_support",
    "has_xla_support",
    "registered_computation_models",
    "setup_available_computation_models",
]


def setup_available_computation_models() -> tuple[type[ComputationModel], ...]:
    """The computation models this installation offers: serial, and ``torch.distributed`` when available.

    Example:
        >>> [model.name for model in setup_available_computation_models()]
        ['serial', 'native-dist']
    """
    return (_SerialModel, _NativeDistModel) if has_native_dist_support else (_SerialModel,)


registered_computation_models = setup_available_computation_models()
