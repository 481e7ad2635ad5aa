"""Ignite's old ``ignite.contrib.metrics.gpu_info`` path.

It re-exports :class:`~cadence.metrics.gpu_info.GpuInfo` and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.gpu_info as old_path
    >>> from cadence.metrics import GpuInfo
    >>> old_path.GpuInfo is GpuInfo
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.gpu_info import GpuInfo

warn_moved(__name__, "cadence.metrics.gpu_info")

__all__ = ["GpuInfo"]
