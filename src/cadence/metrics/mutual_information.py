"""Ignite's ``ignite.metrics.mutual_information`` path: :class:`~cadence.metrics.information.MutualInformation`.

Example:
    >>> from cadence.metrics.mutual_information import MutualInformation
    >>> from cadence.metrics import MutualInformation as Same
    >>> MutualInformation is Same
    True
"""

from cadence.metrics.information import MutualInformation

__all__ = ["MutualInformation"]
