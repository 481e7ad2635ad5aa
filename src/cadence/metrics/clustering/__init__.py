"""Clustering metrics (Ignite's ``ignite.metrics.clustering``): scores of features and their cluster labels.

The code is in :mod:`cadence.metrics.clustering.scores`; Ignite's module paths re-export it.

Example:
    >>> import torch
    >>> from cadence.metrics.clustering import CalinskiHarabaszScore
    >>> score = CalinskiHarabaszScore()
    >>> score.update((torch.tensor([[0.0], [2.0], [10.0], [12.0]]), torch.tensor([0, 0, 1, 1])))
    >>> score.compute()
    50.0
"""

from cadence.metrics.clustering.scores import CalinskiHarabaszScore, DaviesBouldinScore, SilhouetteScore

__all__ = ["CalinskiHarabaszScore", "DaviesBouldinScore", "SilhouetteScore"]
