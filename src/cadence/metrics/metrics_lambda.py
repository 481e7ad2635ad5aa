"""Ignite's ``ignite.metrics.metrics_lambda`` path: :class:`~cadence.metrics.metric.MetricsLambda` lives with
:class:`~cadence.metrics.metric.Metric`, whose arithmetic builds one.

Example:
    >>> from cadence.metrics.metrics_lambda import MetricsLambda
    >>> from cadence.metrics import MetricsLambda as Same
    >>> MetricsLambda is Same
    True
"""

from cadence.engine import Engine as Engine  # Ignite's module has these too
from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import MetricsLambda
from cadence.metrics.usage import MetricUsage as MetricUsage

__all__ = ["MetricsLambda"]
