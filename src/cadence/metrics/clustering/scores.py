"""Clustering quality scores of features and their cluster labels: silhouette, Davies-Bouldin, Calinski-Harabasz.

Each keeps every ``(features, labels)`` pair and scores all of them at once (gathered exactly across
processes), computed with torch in float64 (the same values as scikit-learn's functions). A score is NaN
when it is undefined: fewer than 2 clusters, or as many clusters as samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics._inputs import as_pair
from cadence.metrics.epoch_metric import EpochMetric
from cadence.metrics.metric import identity

__all__ = [
    "CalinskiHarabaszScore",
    "DaviesBouldinScore",
    "SilhouetteScore",
    "calinski_harabasz_score",
    "davies_bouldin_score",
    "silhouette_score",
]

_ROWS_PER_CHUNK = 1024  # rows of the distance matrix held at once by silhouette_score
_NORMS = {"euclidean": 2.0, "l2": 2.0, "manhattan": 1.0, "cityblock": 1.0, "l1": 1.0, "chebyshev": math.inf}


def _clusters(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster indices ``0..k-1`` for ``labels`` and the size of each cluster."""
    _, index, sizes = torch.unique(labels, return_inverse=True, return_counts=True)
    return index, sizes


def _is_defined(sizes: torch.Tensor, samples: int) -> bool:
    return 2 <= len(sizes) < samples


def _centroids(features: torch.Tensor, index: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    sums = features.new_zeros((len(sizes), features.shape[1])).index_add_(0, index, features)
    return sums / sizes.unsqueeze(1).to(features)


def silhouette_score(features: torch.Tensor, labels: torch.Tensor, metric: str = "euclidean") -> float:
    """The mean silhouette coefficient ``(b - a) / max(a, b)`` of all samples (NaN when undefined).

    ``a`` is a sample's mean distance to the others of its cluster, ``b`` its smallest mean distance to
    another cluster; a sample alone in its cluster scores 0. ``metric`` is ``'euclidean'`` (``'l2'``),
    ``'manhattan'`` (``'cityblock'``, ``'l1'``) or ``'chebyshev'``.

    Example:
        >>> features = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
        >>> round(silhouette_score(features, torch.tensor([0, 0, 1, 1])), 4)
        0.8997
    """
    if metric not in _NORMS:
        raise ValueError(f"silhouette_score: metric must be one of {sorted(_NORMS)}, got {metric!r}.")
    features = features.to(torch.float64)
    index, sizes = _clusters(labels)
    if not _is_defined(sizes, len(labels)):
        return math.nan
    one_hot = torch.nn.functional.one_hot(index, len(sizes)).to(features)
    scores = []
    for start in range(0, len(features), _ROWS_PER_CHUNK):
        rows = slice(start, start + _ROWS_PER_CHUNK)
        distances = torch.cdist(features[rows], features, p=_NORMS[metric])
        per_cluster = distances @ one_hot  # summed distance of each row to each cluster
        own = index[rows]
        own_size = sizes[own].to(features)
        inner = per_cluster.gather(1, own.unsqueeze(1)).squeeze(1) / (own_size - 1).clamp(min=1)
        means = per_cluster / sizes.to(features)
        means.scatter_(1, own.unsqueeze(1), math.inf)
        nearest = means.min(dim=1).values
        score = (nearest - inner) / torch.maximum(inner, nearest)
        scores.append(torch.where(own_size > 1, score.nan_to_num(0.0), 0.0))
    return float(torch.cat(scores).mean())


def davies_bouldin_score(features: torch.Tensor, labels: torch.Tensor) -> float:
    """The mean over clusters of the worst ``(s_i + s_j) / d_ij`` (NaN when undefined; lower is better).

    ``s_i`` is the mean distance of cluster ``i``'s samples to its centroid, ``d_ij`` the distance of two centroids.

    Example:
        >>> features = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> davies_bouldin_score(features, torch.tensor([0, 0, 1, 1]))
        0.2
    """
    features = features.to(torch.float64)
    index, sizes = _clusters(labels)
    if not _is_defined(sizes, len(labels)):
        return math.nan
    centroids = _centroids(features, index, sizes)
    spread = (features - centroids[index]).norm(dim=1)
    scatter = spread.new_zeros(len(sizes)).index_add_(0, index, spread) / sizes.to(features)
    separation = torch.cdist(centroids, centroids)
    if bool((scatter.abs() < 1e-8).all()) or bool((separation.abs() < 1e-8).all()):
        return 0.0
    separation.fill_diagonal_(math.inf)
    separation = separation.masked_fill(separation == 0, math.inf)
    ratios = (scatter.unsqueeze(0) + scatter.unsqueeze(1)) / separation
    return float(ratios.max(dim=1).values.mean())


def calinski_harabasz_score(features: torch.Tensor, labels: torch.Tensor) -> float:
    """The variance ratio ``(between-cluster / (k - 1)) / (within-cluster / (n - k))`` (NaN when undefined).

    Example:
        >>> features = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> calinski_harabasz_score(features, torch.tensor([0, 0, 1, 1]))
        50.0
    """
    features = features.to(torch.float64)
    index, sizes = _clusters(labels)
    samples, clusters = len(labels), len(sizes)
    if not _is_defined(sizes, samples):
        return math.nan
    centroids = _centroids(features, index, sizes)
    between = float((sizes.to(features) * (centroids - features.mean(dim=0)).square().sum(dim=1)).sum())
    within = float((features - centroids[index]).square().sum())
    if within == 0:
        return 1.0
    return between * (samples - clusters) / (within * (clusters - 1))


class _ClusteringScore(EpochMetric):
    """Keeps every ``(features, labels)``: features ``(batch_size, n_features)``, labels ``(batch_size,)``."""

    required_output_keys = ("features", "labels")

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(self._score, output_transform, check_compute_fn, device, skip_unrolling)

    def _checked(self, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        kind = type(self).__name__
        features, labels = as_pair(output, kind)
        if features.dim() != 2:
            raise ValueError(
                f"{kind}: Features should be of shape (batch_size, n_targets), got {tuple(features.shape)}."
            )
        if labels.dim() != 1:
            raise ValueError(f"{kind}: Labels should be of shape (batch_size, ), got {tuple(labels.shape)}.")
        if len(features) != len(labels):
            raise ValueError(f"{kind}: got {len(features)} feature rows but {len(labels)} labels; give one per row.")
        if self._predictions:
            for name, new, kept in (("features", features, self._predictions), ("labels", labels, self._targets)):
                if new.dtype != kept[-1].dtype:
                    raise ValueError(
                        f"{kind}: Incoherent types between input {name} and stored {name}: {kept[-1].dtype} vs "
                        f"{new.dtype}; feed every batch with the same dtypes."
                    )
        if labels.is_floating_point() or labels.is_complex():
            raise TypeError(f"{kind}: labels must be integer cluster ids, got dtype {labels.dtype}.")
        return features, labels

    def compute(self) -> float:
        """The score over all samples of all processes."""
        return self._score(*self._gathered(torch.float64, torch.int64))

    def _score(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """The score of the given samples (``compute_fn``): ``features`` ``(n_samples, n_features)``, ``labels``
        ``(n_samples,)`` cluster ids."""
        features, labels = features.to(torch.float64), labels.to(torch.int64)
        if not bool(torch.isfinite(features).all()):
            raise ValueError(f"{type(self).__name__} got NaN or infinite features; it needs finite features.")
        return self._score_of(features, labels)

    def _score_of(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        raise NotImplementedError


class SilhouetteScore(_ClusteringScore):
    """The mean silhouette coefficient of all samples (see :func:`silhouette_score`); higher is better.

    Args:
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`; the output is
            ``(features, labels)`` or a mapping with the keys ``features`` and ``labels``.
        check_compute_fn: compute its score of the first batch and warn
            (:class:`~cadence.metrics.epoch_metric.EpochMetricWarning`) if that fails (e.g. NaN values), as Ignite.
        silhouette_kwargs: options of scikit-learn's ``silhouette_score``. ``{"metric": name}`` with a
            name :func:`silhouette_score` knows is computed here; anything else calls scikit-learn.

    Example:
        >>> score = SilhouetteScore()
        >>> score.update((torch.tensor([[0.0], [1.0], [10.0], [11.0]]), torch.tensor([0, 0, 1, 1])))
        >>> round(score.compute(), 4)
        0.8997
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        silhouette_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.silhouette_kwargs = dict(silhouette_kwargs or {})
        super().__init__(output_transform, check_compute_fn, device, skip_unrolling)

    def _score_of(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        options = self.silhouette_kwargs
        if set(options) <= {"metric"} and options.get("metric", "euclidean") in _NORMS:
            return silhouette_score(features, labels, **options)
        if not _is_defined(_clusters(labels)[1], len(labels)):
            return math.nan
        try:
            from sklearn.metrics import silhouette_score as sklearn_silhouette_score
        except ImportError as error:
            raise ModuleNotFoundError(
                f"SilhouetteScore(silhouette_kwargs={options!r}) calls scikit-learn: pip install scikit-learn "
                "(or give only a metric among " + ", ".join(sorted(_NORMS)) + ")."
            ) from error
        return float(sklearn_silhouette_score(features.cpu().numpy(), labels.cpu().numpy(), **options))


class DaviesBouldinScore(_ClusteringScore):
    """The Davies-Bouldin index of all samples (see :func:`davies_bouldin_score`); lower is better.

    Args:
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`; the output is
            ``(features, labels)`` or a mapping with the keys ``features`` and ``labels``.
        check_compute_fn: compute its score of the first batch and warn
            (:class:`~cadence.metrics.epoch_metric.EpochMetricWarning`) if that fails (e.g. NaN values), as Ignite.

    Example:
        >>> score = DaviesBouldinScore()
        >>> score.update((torch.tensor([[0.0], [2.0], [10.0], [12.0]]), torch.tensor([0, 0, 1, 1])))
        >>> score.compute()
        0.2
    """

    def _score_of(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        return davies_bouldin_score(features, labels)


class CalinskiHarabaszScore(_ClusteringScore):
    """The Calinski-Harabasz index of all samples (see :func:`calinski_harabasz_score`); higher is better.

    Args:
        output_transform, device, skip_unrolling: as for :class:`~cadence.metrics.Metric`; the output is
            ``(features, labels)`` or a mapping with the keys ``features`` and ``labels``.
        check_compute_fn: compute its score of the first batch and warn
            (:class:`~cadence.metrics.epoch_metric.EpochMetricWarning`) if that fails (e.g. NaN values), as Ignite.

    Example:
        >>> score = CalinskiHarabaszScore()
        >>> score.update((torch.tensor([[0.0], [2.0], [10.0], [12.0]]), torch.tensor([0, 0, 1, 1])))
        >>> score.compute()
        50.0
    """

    def _score_of(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        return calinski_harabasz_score(features, labels)
