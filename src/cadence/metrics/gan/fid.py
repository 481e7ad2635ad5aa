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


def _similar_symmetric(s1: torch.Tensor, s2: torch.Tensor, tolerance: float) -> torch.Tensor | None:
    """A symmetric matrix with the eigenvalues of ``S1 S2`` (both symmetric), or None if ``S1`` is clearly indefinite.

    With a Cholesky factor ``S1 = L Lᵀ`` it is ``Lᵀ S2 L`` (the cheapest; ``S2``'s factor serves as well, the
    trace being symmetric in the two), else ``S1^½ S2 S1^½`` from the eigendecomposition of a singular ``S1``.
    """
    similar: torch.Tensor
    for first, second in ((s1, s2), (s2, s1)):
        factor, info = torch.linalg.cholesky_ex(first)
        if int(info) == 0:
            similar = factor.T @ second @ factor
            return similar
    values, vectors = torch.linalg.eigh(s1)
    if not bool(torch.isfinite(values).all()) or bool(values.min() < -tolerance * values.abs().max()):
        return None
    root = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    similar = root @ s2 @ root
    return similar


def _trace_of_root(s1: torch.Tensor, s2: torch.Tensor) -> float | None:
    """``tr((S1 S2)^½)`` of symmetric positive semi-definite ``S1``, ``S2`` (float64), or None when they are not.

    ``S1 S2`` is similar to a symmetric matrix (see :func:`_similar_symmetric`), so its eigenvalues are real and
    non-negative, and the trace of the square root is the sum of their square roots: a Cholesky factorisation
    and a symmetric eigenvalue problem cost a fraction of a general matrix square root. Eigenvalues a little
    below zero are rounding errors of (near-)singular covariances and count as zero; anything else (not
    symmetric, clearly indefinite, not finite) returns None for the general method to judge.
    """
    tolerance = 1e-9
    if not (bool(torch.isfinite(s1).all()) and bool(torch.isfinite(s2).all())):
        return None
    for sigma in (s1, s2):
        if bool(((sigma - sigma.T).abs() > tolerance * sigma.abs().max()).any()):
            return None
    try:
        similar = _similar_symmetric(s1 * 0.5 + s1.T * 0.5, s2 * 0.5 + s2.T * 0.5, tolerance)
        if similar is None or not bool(torch.isfinite(similar).all()):
            return None
        eigenvalues = torch.linalg.eigvalsh(similar * 0.5 + similar.T * 0.5)
    except RuntimeError:  # torch.linalg.LinAlgError (no convergence): leave it to the general method
        return None
    if bool(eigenvalues.min() < -tolerance * eigenvalues.abs().max()):
        return None
    return float(eigenvalues.clamp(min=0).sqrt().sum())


def _trace_of_root_general(s1: torch.Tensor, s2: torch.Tensor, eps: float) -> float:
    """``tr((S1 S2)^½)`` through SciPy's general matrix square root, for inputs that are not valid covariances."""
    import numpy as np
    import scipy.linalg

    a, b = s1.numpy(), s2.numpy()
    root = scipy.linalg.sqrtm(a @ b)
    if not np.isfinite(root).all():
        offset = np.eye(a.shape[0]) * eps
        root = scipy.linalg.sqrtm((a + offset) @ (b + offset))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            raise ValueError(
                f"Imaginary component {np.max(np.abs(root.imag))} in the square root of sigma1 @ sigma2: "
                "the covariances are not valid (symmetric positive semi-definite) or far too singular."
            )
        root = root.real
    if not np.isfinite(root).all():
        return float(np.sum(np.sqrt(np.diag(a) * np.diag(b))))
    return float(np.trace(root))


def fid_score(
    mu1: torch.Tensor, mu2: torch.Tensor, sigma1: torch.Tensor, sigma2: torch.Tensor, eps: float = 1e-6
) -> float:
    """The Fréchet distance ``|mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^½)`` of two Gaussians.

    For covariances (symmetric positive semi-definite) the trace of the root is the sum of the square roots
    of the eigenvalues of ``S1^½ S2 S1^½``, in float64. Other matrices go through SciPy's general square root:
    a product too singular for a finite root is retried with ``eps`` added to the diagonals, and if it is still
    not finite the trace of the root is taken from the diagonals alone; a clearly complex root raises.

    Example:
        >>> mu, sigma = torch.zeros(2), torch.eye(2, dtype=torch.float64)
        >>> round(fid_score(mu, mu + 1, sigma, 4 * sigma), 6)
        4.0
    """
    _require_numpy_scipy("fid_score")
    mu1, mu2 = mu1.detach().cpu().double(), mu2.detach().cpu().double()
    s1, s2 = sigma1.detach().cpu().double(), sigma2.detach().cpu().double()
    trace_root = _trace_of_root(s1, s2)
    if trace_root is None:
        trace_root = _trace_of_root_general(s1, s2, eps)
    distance = (mu1 - mu2).dot(mu1 - mu2).item() + float(s1.trace()) + float(s2.trace()) - 2 * trace_root
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
    # A mapping output gives the pair under these keys (generated, real), as in Ignite.
    required_output_keys = ("y_pred", "y")

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
        train_features, test_features = self._features(train, check_nan=False), self._features(test, check_nan=False)
        if train_features.shape != test_features.shape:
            raise ValueError(
                "Number of Training Features and Testing Features should be equal "
                f"({train_features.shape} != {test_features.shape})"
            )
        train_sum, test_sum = train_features.sum(0), test_features.sum(0)
        if bool(torch.isnan(train_sum.sum() + test_sum.sum())):  # a NaN feature makes its sums NaN
            raise ValueError("FID: the feature network returned NaN (or infinite) features.")
        self._train_total += train_sum
        self._test_total += test_sum
        self._train_sigma.addmm_(train_features.T, train_features)  # in place: no temporary (F, F) product
        self._test_sigma.addmm_(test_features.T, test_features)
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
