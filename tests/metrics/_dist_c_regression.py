"""Helper C's metrics for the 2-process check: regression, clustering, pairwise and fairness metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics import CosineSimilarity, MeanPairwiseDistance, Metric
from cadence.metrics import regression as r
from cadence.metrics.clustering import CalinskiHarabaszScore, DaviesBouldinScore, SilhouetteScore
from cadence.metrics.fairness import DemographicParityDifference, SubgroupAccuracyDifference


class _WithGroups(Metric):
    """Feeds ``(y_pred[:, 0], y, y_pred[:, 1])`` to a subgroup metric (the job's batches are pairs)."""

    def __init__(self, inner: Metric) -> None:
        self.inner = inner
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()

    def update(self, output: Any) -> None:
        y_pred, y = output
        self.inner.update((y_pred[:, 0], y, y_pred[:, 1]))

    def compute(self) -> Any:
        return self.inner.compute()


def data(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(11)
    labels = torch.randint(0, 3, (n,), generator=g)
    predictions, groups = torch.randint(0, 2, (n,), generator=g), torch.arange(n) % 3
    return {
        # positive values: every relative error is defined; rounded values add ties for the rank correlations
        "c_regression": (torch.rand(n, 1, generator=g).double() + 0.5, torch.rand(n, 1, generator=g).double() + 0.5),
        "c_ties": ((torch.rand(n, generator=g) * 5).round() + 1, (torch.rand(n, generator=g) * 5).round() + 1),
        "c_clusters": (torch.randn(n, 3, generator=g) + labels.unsqueeze(1), labels),
        "c_vectors": (torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)),
        "c_groups": (torch.stack([predictions, groups], dim=1), torch.randint(0, 2, (n,), generator=g)),
    }


def metrics() -> dict[str, tuple[str, Callable[[], Metric]]]:
    regression: list[Callable[[], Metric]] = [
        r.CanberraMetric,
        r.FractionalAbsoluteError,
        r.FractionalBias,
        r.GeometricMeanAbsoluteError,
        r.GeometricMeanRelativeAbsoluteError,
        r.ManhattanDistance,
        r.MaximumAbsoluteError,
        r.MeanAbsoluteRelativeError,
        r.MeanError,
        r.MeanNormalizedBias,
        r.MedianAbsoluteError,
        r.MedianAbsolutePercentageError,
        r.MedianRelativeAbsoluteError,
        r.PearsonCorrelation,
        r.R2Score,
        r.SpearmanRankCorrelation,
        r.KendallRankCorrelation,
        r.WaveHedgesDistance,
    ]
    table: dict[str, tuple[str, Callable[[], Metric]]] = {
        f"c_{make.__name__}": ("c_regression", make) for make in regression
    }
    table.update(
        {
            "c_spearman_ties": ("c_ties", r.SpearmanRankCorrelation),
            "c_kendall_b_ties": ("c_ties", r.KendallRankCorrelation),
            "c_kendall_c_ties": ("c_ties", lambda: r.KendallRankCorrelation(variant="c")),
            "c_median_ties": ("c_ties", r.MedianAbsoluteError),
            "c_silhouette": ("c_clusters", SilhouetteScore),
            "c_davies_bouldin": ("c_clusters", DaviesBouldinScore),
            "c_calinski_harabasz": ("c_clusters", CalinskiHarabaszScore),
            "c_cosine": ("c_vectors", CosineSimilarity),
            "c_pairwise_distance": ("c_vectors", MeanPairwiseDistance),
            "c_parity": ("c_groups", lambda: _WithGroups(DemographicParityDifference(groups=[0, 1, 2]))),
            "c_accuracy_gap": ("c_groups", lambda: _WithGroups(SubgroupAccuracyDifference(groups=[0, 1, 2]))),
        }
    )
    return table
