"""Fairness metrics (Ignite's ``ignite.metrics.fairness``): a metric per group of samples and the gaps between groups.

Example:
    >>> import torch
    >>> from cadence.metrics.fairness import DemographicParityDifference
    >>> parity = DemographicParityDifference(groups=[0, 1])
    >>> parity.update((torch.tensor([1, 1, 1, 0]), torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 1, 1])))
    >>> parity.compute()
    0.5
"""

from cadence.metrics.fairness.accuracy_difference import SubgroupAccuracyDifference
from cadence.metrics.fairness.base import SubgroupDifference, SubgroupMetric
from cadence.metrics.fairness.demographic_parity import DemographicParityDifference, SelectionRate

__all__ = [
    "DemographicParityDifference",
    "SelectionRate",
    "SubgroupAccuracyDifference",
    "SubgroupDifference",
    "SubgroupMetric",
]
