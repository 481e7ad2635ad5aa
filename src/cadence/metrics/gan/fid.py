""":class:`FID`: the Fréchet distance between the feature distributions of two sets of samples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cadence.metrics.gan.utils import InceptionModel, _FeatureMetric
from cadence.metrics.metric import NotComputableError, identity, reduced

__all__ = ["FID", "fid_score"]


def _require_numpy_scipy(who: str) -> None:
    try:
        import numpy  # noqa: F401  # presence check only
    except ImportError as error:
        raise ModuleNotFoundError(f"{who} requires numpy to be installed (pip install numpy).") from error
    try:
        import scipy.linalg  # type: ignore[import-untyped,unused-ignore]  # noqa: F401  # no stubs; presence check
    except ImportError as error:
        raise ModuleNotFoundError(f"{who} requires scipy to be installed (pip install scipy).") from error


def fid_score(
    mu1: torch.Tensor, mu2: torch.Tensor, sigma1: torch.Tensor, sigma2: torch.Tensor, eps: float = 1e-6
) -> float:
    """The Fréchet distance ``|mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^½)`` of two Gaussians.

    A product ``S1 S2`` too singular for a finite square root is retried with ``eps`` added to the diagonals;
    if it is still not finite, the trace of the root is taken from the diagonals alone.

    Example:
        >>> mu, sigma = torch.zeros(2), torch.eye(2, dtype=torch.float64)
        >>> round(fid_score(mu, mu + 1, sigma, 4 * sigma), 6)
        4.0
    """
    _require_numpy_scipy("fid_score")
    import numpy as np
    import scipy.linalg

    mu1, mu2 = mu1.detach().cpu().double(), mu2.detach().cpu().double()
    s1, s2 = sigma1.detach().cpu().double().numpy(), sigma2.detach().cpu().double().numpy()
    root = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(root).all():
        offset = np.eye(s1.shape[0]) * eps
        root = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            raise ValueError(
                f"Imaginary component {np.max(np.abs(root.imag))} in the square root of sigma1 @ sigma2: "
                "the covariances are not valid (symmetric positive semi-definite) or far too singular."
            )
        root = root.real
    trace_root = float(np.trace(root))
    if not np.isfinite(root).all():
        trace_root = float(np.sum(np.sqrt(np.diag(s1) * np.diag(s2))))
    distance = (mu1 - mu2).dot(mu1 - mu2).item() + float(np.trace(s1)) + float(np.trace(s2)) - 2 * trace_root
    return float(distance)


def _default_extractor() -> tuple[int, nn.Module]:
    return 2048, InceptionModel(return_features=True)


class FID(_FeatureMetric):
    """The Fréchet Inception Distance (Heusel et al., 2017) between generated and real samples.

    ``update((y_pred, y))`` takes a batch of generated samples and one of real samples of the same size; the
    feature network maps each to ``(N, num_features)``. Sums of features and of their outer products are
    kept (in float64), so any number of batches and processes give the distance of the whole sets.

    Args:
        num_features: the size of the features (required with ``feature_extractor``; 2048 for Inception).
        feature_extractor: the network; default: :class:`~cadence.metrics.gan.utils.InceptionModel` from local
            weights (see there), never downloaded.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums are kept.

    Example:
        >>> fid = FID(num_features=2, feature_extractor=torch.nn.Identity())
        >>> fid.update((torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.tensor([[1.0, 1.0], [3.0, 3.0]])))
        >>> round(fid.compute(), 6)
        2.0
    """

    _state_names = ("_train_total", "_test_total", "_train_sigma", "_test_sigma", "_num_examples")

    def __init__(
        self,
        num_features: int | None = None,
        feature_extractor: nn.Module | None = None,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
    ) -> None:
        _require_numpy_scipy("This module")
        super().__init__(num_features, feature_extractor, output_transform, device=device, default=_default_extractor)

    def reset(self) -> None:
        """Forget all samples seen."""
        size = self._num_features
        self._train_total = torch.zeros(size, dtype=torch.float64, device=self._device)
        self._test_total = torch.zeros(size, dtype=torch.float64, device=self._device)
        self._train_sigma = torch.zeros(size, size, dtype=torch.float64, device=self._device)
        self._test_sigma = torch.zeros(size, size, dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add a batch ``(generated, real)``."""
        train, test = output
        train_features, test_features = self._features(train), self._features(test)
        if train_features.shape != test_features.shape:
            raise ValueError(
                "Number of Training Features and Testing Features should be equal "
                f"({train_features.shape} != {test_features.shape})"
            )
        self._train_total += train_features.sum(0)
        self._test_total += test_features.sum(0)
        self._train_sigma += train_features.T @ train_features
        self._test_sigma += test_features.T @ test_features
        self._num_examples += train_features.shape[0]

    def compute(self) -> float:
        """The FID of everything seen."""
        count = reduced(self._num_examples)
        if count < 2:
            raise NotComputableError(f"FID must have at least two examples before it can be computed, got {count}.")
        sums = [reduced(t) for t in (self._train_total, self._test_total, self._train_sigma, self._test_sigma)]
        train_mean, test_mean = sums[0] / count, sums[1] / count
        train_cov = (sums[2] - count * torch.outer(train_mean, train_mean)) / (count - 1)
        test_cov = (sums[3] - count * torch.outer(test_mean, test_mean)) / (count - 1)
        return fid_score(train_mean, test_mean, train_cov, test_cov)
