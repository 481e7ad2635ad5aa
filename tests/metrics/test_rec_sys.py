"""HitRate and NDCG against ranx and a direct NumPy formula, on odd-sized batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from cadence.metrics import NotComputableError
from cadence.metrics.rec_sys import NDCG, HitRate
from tests.metrics._data import SETTINGS, cuts, split


def data(seed: int, queries: int = 31, items: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 5, (queries, items), generator=g).float()  # many ties
    relevance = torch.randint(0, 4, (queries, items), generator=g).float() * (
        torch.rand(queries, items, generator=g) > 0.6
    )
    return scores, relevance


def numpy_hit_rate(scores: np.ndarray, relevance: np.ndarray, k: int, ignore_zero_hits: bool) -> float:
    keep = (relevance > 0).any(-1) if ignore_zero_hits else np.ones(len(scores), dtype=bool)
    order = np.argsort(-scores[keep], axis=-1, kind="stable")[:, :k]
    return float((np.take_along_axis(relevance[keep], order, -1) > 0).any(-1).mean())


def ranx_ndcg(scores: np.ndarray, relevance: np.ndarray, k: int, ignore_zero_hits: bool, linear: bool) -> float:
    from ranx import Qrels, Run, evaluate

    qrels, run, empty = {}, {}, 0
    for q, (row_scores, row_relevance) in enumerate(zip(scores, relevance, strict=False)):
        relevant = {f"d{j}": float(r) for j, r in enumerate(row_relevance) if r >= 1}
        if not relevant:
            empty += 1
            continue
        qrels[f"q{q}"] = relevant
        # ranx breaks ties by document id in reverse; strictly decreasing offsets keep the items' order.
        run[f"q{q}"] = {f"d{j}": float(s) - j * 1e-6 for j, s in enumerate(row_scores)}
    value = float(evaluate(Qrels(qrels), Run(run), f"{'ndcg' if linear else 'ndcg_burges'}@{k}"))
    if ignore_zero_hits:
        return value
    return value * len(qrels) / (len(qrels) + empty)


@pytest.mark.parametrize("ignore_zero_hits", [True, False])
def test_hit_rate_matches_numpy(ignore_zero_hits: bool) -> None:
    scores, relevance = data(1)
    metric = HitRate(top_k=[5, 1, 3, 20], ignore_zero_hits=ignore_zero_hits)
    for batch in split([scores, relevance], [0, 4, 4, 17]):
        metric.update(batch)
    expected = [numpy_hit_rate(scores.numpy(), relevance.numpy(), k, ignore_zero_hits) for k in (1, 3, 5, 20)]
    assert metric.compute() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("ignore_zero_hits", [True, False])
def test_ndcg_matches_ranx(linear: bool, ignore_zero_hits: bool) -> None:
    scores, relevance = data(2)
    metric = NDCG(
        top_k=[1, 3, 9], ignore_zero_hits=ignore_zero_hits, gain_function="linear_rank" if linear else "exp_rank"
    )
    for batch in split([scores, relevance], [3, 3, 20]):
        metric.update(batch)
    expected = [ranx_ndcg(scores.numpy(), relevance.numpy(), k, ignore_zero_hits, linear) for k in (1, 3, 9)]
    assert metric.compute() == pytest.approx(expected, rel=1e-9)


@settings(**SETTINGS)
@given(cuts(31))
def test_any_batching_gives_the_same_values(points: list[int]) -> None:
    scores, relevance = data(3)
    whole_hits, whole_ndcg = HitRate(top_k=[2, 4]), NDCG(top_k=[2, 4])
    whole_hits.update((scores, relevance))
    whole_ndcg.update((scores, relevance))
    hits, ndcg = HitRate(top_k=[2, 4]), NDCG(top_k=[2, 4])
    for batch in split([scores, relevance], points):
        hits.update(batch)
        ndcg.update(batch)
    assert hits.compute() == pytest.approx(whole_hits.compute(), rel=1e-12)
    assert ndcg.compute() == pytest.approx(whole_ndcg.compute(), rel=1e-12)
    assert all(0.0 <= value <= 1.0 for value in ndcg.compute())


def test_errors() -> None:
    with pytest.raises(ValueError, match="top_k must have at least one positive value"):
        HitRate(top_k=[])
    with pytest.raises(ValueError, match="top_k must be either int or a list"):
        HitRate(top_k="3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integers"):
        NDCG(top_k=[0, 2])
    with pytest.raises(ValueError, match="gain_function must be either"):
        NDCG(top_k=[1], gain_function="log")
    with pytest.raises(ValueError, match="same shape"):
        HitRate().update((torch.zeros(2, 3), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"\(num_queries, num_items\)"):
        NDCG(top_k=[1]).update((torch.zeros(3), torch.zeros(3)))
    with pytest.raises(ValueError, match="NaN"):
        NDCG(top_k=[1]).update((torch.tensor([[float("nan"), 1.0]]), torch.ones(1, 2)))
    nothing_relevant = HitRate(top_k=2)
    nothing_relevant.update((torch.rand(3, 4), torch.zeros(3, 4)))
    with pytest.raises(NotComputableError):
        nothing_relevant.compute()
