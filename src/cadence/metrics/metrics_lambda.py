"""Ignite's ``ignite.metrics.metrics_lambda`` path: :class:`~cadence.metrics.metric.MetricsLambda` lives with
:class:`~cadence.metrics.metric.Metric`, whose arithmetic builds one.

Example:
    >>> from cadence.metrics.metrics_lambda import MetricsLambda
    >>> from cadence.metrics import MetricsLambda as Same
    >>> MetricsLambda is Same
    True
"""

from cadence.metrics.metric import MetricsLambda as MetricsLambda

__all__ = ["MetricsLambda"]
