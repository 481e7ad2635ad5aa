"""Reproducible data order, worker seeding and RNG capture for exact resume.

Example:
    >>> from cadence.data import ReproducibleBatchSampler
    >>> sampler = ReproducibleBatchSampler(4, 2, seed=0)
    >>> sampler.set_epoch(1); sorted(i for batch in sampler for i in batch)
    [0, 1, 2, 3]
"""

from cadence.data.loader import reproducible_dataloader, seed_worker
from cadence.data.position import set_data_position, skip_batches
from cadence.data.rng import capture_rng_states, derive_seed, manual_seed, restore_rng_states
from cadence.data.sampler import ReproducibleBatchSampler, ReproducibleSampler, ResumableSampler

__all__ = [
    "ReproducibleBatchSampler",
    "ReproducibleSampler",
    "ResumableSampler",
    "capture_rng_states",
    "derive_seed",
    "manual_seed",
    "reproducible_dataloader",
    "restore_rng_states",
    "seed_worker",
    "set_data_position",
    "skip_batches",
]
