"""Ignite's old ``ignite.contrib.metrics.regression.canberra_metric`` path.

It re-exports :class:`~cadence.metrics.regression.canberra_metric.CanberraMetric`
and warns on import, as Ignite does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     import cadence.contrib.metrics.regression.canberra_metric as old_path
    >>> from cadence.metrics.regression import CanberraMetric
    >>> old_path.CanberraMetric is CanberraMetric
    True
"""

from cadence.contrib._moved import warn_moved
from cadence.metrics.regression.canberra_metric import CanberraMetric

warn_moved(__name__, "cadence.metrics.regression.canberra_metric")

__all__ = ["CanberraMetric"]
