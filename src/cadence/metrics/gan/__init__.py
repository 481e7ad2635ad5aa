"""Metrics of generative models: :class:`FID` and :class:`InceptionScore`, over the features of a network
that the user gives (or Inception v3 from local weights, never downloaded).

Example:
    >>> import torch
    >>> from cadence.metrics.gan import FID
    >>> fid = FID(num_features=1, feature_extractor=torch.nn.Identity())
    >>> fid.update((torch.tensor([[0.0], [2.0]]), torch.tensor([[0.0], [2.0]])))
    >>> fid.compute()
    0.0
"""

from cadence.metrics.gan.fid import FID
from cadence.metrics.gan.inception_score import InceptionScore

__all__ = ["FID", "InceptionScore"]
