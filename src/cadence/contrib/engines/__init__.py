"""Ignite's ``ignite.contrib.engines`` path: the truncated-BPTT trainer; ``common`` holds the one-call setups.

Example:
    >>> from cadence.contrib.engines import Tbptt_Events
    >>> [event.name for event in Tbptt_Events]
    ['TIME_ITERATION_STARTED', 'TIME_ITERATION_COMPLETED']
"""

from cadence.contrib.engines.tbptt import Tbptt_Events, create_supervised_tbptt_trainer

__all__ = ["Tbptt_Events", "create_supervised_tbptt_trainer"]
