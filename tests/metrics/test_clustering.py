"""SilhouetteScore, DaviesBouldinScore and CalinskiHarabaszScore against scikit-learn."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from cadence.metrics import NotComputableError
from cadence.metrics.clustering import CalinskiHarabaszScore, DaviesBouldinScore, SilhouetteScore
from cadence.metrics.epoch_metric import EpochMetricWarning
from tests.metrics._data import SETTINGS, cuts, generator, split

REFERENCES = [
    (SilhouetteScore, sk.silhouette_score),
    (DaviesBouldinScore, sk.davies_bouldin_score),
    (CalinskiHarabaszScore, sk.calinski_harabasz_score),
]


@pytest.mark.parametrize("metric_cls, reference", REFERENCES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 60), clusters=st.integers(2, 4), data=st.data())
def test_matches_sklearn(metric_cls: Any, reference: Any, seed: int, n: int, clusters: int, data: Any) -> None:
    g = generator(seed)
    labels = torch.randint(0, clusters, (n,), generator=g) * 7 - 3  # any integer ids
    features = torch.randn(n, 3, generator=g) + labels.unsqueeze(1) / 4
    metric = metric_cls()
    for batch in split([features, labels], data.draw(cuts(n))):
        metric.update(batch)
    distinct = len(torch.unique(labels))
    expected = reference(features.double().numpy(), labels.numpy()) if 2 <= distinct < n else math.nan
    assert metric.compute() == pytest.approx(expected, rel=1e-9, nan_ok=True)


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev"])
def test_silhouette_with_other_distances(metric: str) -> None:
    g = generator(1)
    features, labels = torch.randn(40, 2, generator=g), torch.randint(0, 3, (40,), generator=g)
    score = SilhouetteScore(silhouette_kwargs={"metric": metric})
    score.update((features, labels))
    assert score.compute() == pytest.approx(sk.silhouette_score(features.numpy(), labels.numpy(), metric=metric))


def test_silhouette_passes_other_options_to_sklearn() -> None:
    g = generator(2)
    features, labels = torch.randn(40, 2, generator=g), torch.randint(0, 3, (40,), generator=g)
    options = {"sample_size": 20, "random_state": 0}
    score = SilhouetteScore(silhouette_kwargs=options)
    score.update((features, labels))
    assert score.compute() == pytest.approx(sk.silhouette_score(features.numpy(), labels.numpy(), **options))


@pytest.mark.parametrize("metric_cls", [SilhouetteScore, DaviesBouldinScore, CalinskiHarabaszScore])
def test_bad_input(metric_cls: Any) -> None:
    metric = metric_cls()
    with pytest.raises(NotComputableError, match="at least one example"):
        metric.compute()
    with pytest.raises(ValueError, match="Features should be of shape"):
        metric.update((torch.zeros(4), torch.zeros(4, dtype=torch.long)))
    with pytest.raises(ValueError, match="Labels should be of shape"):
        metric.update((torch.zeros(4, 2), torch.zeros(4, 1, dtype=torch.long)))
    with pytest.raises(ValueError, match="one per row"):
        metric.update((torch.zeros(4, 2), torch.zeros(3, dtype=torch.long)))
    with pytest.raises(TypeError, match="integer cluster ids"):
        metric.update((torch.zeros(4, 2), torch.zeros(4)))
    metric.update((torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)))
    with pytest.raises(ValueError, match="Incoherent types between input features"):
        metric.update((torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.long)))
    metric.update((torch.full((1, 2), math.nan), torch.ones(1, dtype=torch.long)))
    with pytest.raises(ValueError, match="NaN"):
        metric.compute()


@pytest.mark.parametrize("metric_cls", [SilhouetteScore, DaviesBouldinScore, CalinskiHarabaszScore])
def test_check_compute_fn_warns_on_a_first_batch_that_cannot_be_scored(metric_cls: Any) -> None:
    nan_batch = (torch.full((2, 2), math.nan), torch.tensor([0, 1]))
    with pytest.warns(EpochMetricWarning, match="NaN or infinite features"):
        metric_cls().update(nan_batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metric_cls(check_compute_fn=False).update(nan_batch)
        metric_cls().update((torch.rand(3, 2), torch.tensor([0, 0, 1])))  # a batch that can be scored


def test_mapping_output_is_read_at_features_and_labels() -> None:
    assert SilhouetteScore.required_output_keys == ("features", "labels")
