""":class:`InceptionScore`: how confident and how varied a classifier's predictions on generated samples are."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cadence.metrics.gan.utils import InceptionModel, _FeatureMetric
from cadence.metrics.metric import NotComputableError, identity, reduced

__all__ = ["InceptionScore"]


def _default_extractor() -> tuple[int, nn.Module]:
    return 1000, InceptionModel(return_features=False)


class InceptionScore(_FeatureMetric):
    """The Inception Score (Salimans et al., 2016), ``exp(mean over x of KL(p(y|x) || p(y)))``.

    ``update(x)`` takes a batch that the network maps to class probabilities ``(N, num_features)``. Sums of
    the probabilities and of ``p log p`` are kept (in float64), so batches and processes combine exactly.

    Args:
        num_features: the number of classes (required with ``feature_extractor``; 1000 for Inception).
        feature_extractor: the network giving probabilities; default: Inception v3 from local weights (see
            :class:`~cadence.metrics.gan.utils.InceptionModel`), never downloaded.
        output_transform: maps the engine's output to the batch.
        device: where the sums are kept.

    Example:
        >>> score = InceptionScore(num_features=2, feature_extractor=torch.nn.Identity())
        >>> score.update(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        >>> score.compute()
        2.0
    """

    _state_names = ("_prob_total", "_total_kl_d", "_num_examples")

    def __init__(
        self,
        num_features: int | None = None,
        feature_extractor: nn.Module | None = None,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(num_features, feature_extractor, output_transform, device=device, default=_default_extractor)

    def reset(self) -> None:
        """Forget all samples seen."""
        self._prob_total = torch.zeros(self._num_features, dtype=torch.float64, device=self._device)
        self._total_kl_d = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add a batch."""
        probabilities = self._features(output)
        if bool((probabilities < 0).any()):
            raise ValueError("InceptionScore: the feature network must give probabilities (>= 0), got negative values.")
        self._prob_total += probabilities.sum(0)
        self._total_kl_d += torch.special.xlogy(probabilities, probabilities).sum()
        self._num_examples += probabilities.shape[0]

    def compute(self) -> float:
        """The Inception Score of everything seen."""
        count = reduced(self._num_examples)
        if count == 0:
            raise NotComputableError("InceptionScore must have at least one example before it can be computed.")
        marginal = reduced(self._prob_total) / count
        mean_kl = reduced(self._total_kl_d).item() / count - torch.special.xlogy(marginal, marginal).sum().item()
        return math.exp(mean_kl)
