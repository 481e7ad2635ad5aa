"""MeanAveragePrecision against scikit-learn's average_precision_score, on odd-sized batches with tied scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from cadence.metrics import MeanAveragePrecision, NotComputableError
from tests.metrics._data import split


def tied_scores(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 8).round() / 8


@pytest.mark.parametrize("class_mean", [None, "macro", "micro", "weighted"])
def test_multiclass_and_multilabel_match_scikit_learn(class_mean: str | None) -> None:
    g = torch.Generator().manual_seed(0)
    scores = tied_scores((37, 4, 2), 1)
    labels = torch.randint(0, 4, (37, 2), generator=g)
    flags = torch.randint(0, 2, (37, 4, 2), generator=g)
    flat_scores = scores.movedim(1, -1).reshape(-1, 4).numpy()
    for data, truth, multilabel in (
        ((scores, labels), np.eye(4)[labels.reshape(-1).numpy()], False),
        ((scores, flags), flags.movedim(1, -1).reshape(-1, 4).numpy(), True),
    ):
        metric = MeanAveragePrecision(class_mean=class_mean, is_multilabel=multilabel)
        for batch in split(list(data), [3, 3, 20]):
            metric.update(batch)
        expected = average_precision_score(truth, flat_scores, average=class_mean)
        assert np.allclose(np.asarray(metric.compute()), expected, rtol=1e-12)


def test_binary_returns_a_float_and_rec_thresholds_read_precision_at_each_level() -> None:
    scores = tied_scores((50,), 2)
    target = torch.randint(0, 2, (50,), generator=torch.Generator().manual_seed(3))
    metric = MeanAveragePrecision()
    for batch in split([scores, target], [1, 10, 10]):
        metric.update(batch)
    value = metric.compute()
    assert isinstance(value, float)
    assert value == pytest.approx(average_precision_score(target.numpy(), scores.numpy()), rel=1e-12)
    # With one threshold at recall 1, the value is the precision where recall first reaches 1.
    at_one = MeanAveragePrecision(rec_thresholds=[1.0])
    at_one.update((scores, target))
    order = np.argsort(-scores.numpy(), kind="stable")
    positives = np.cumsum(target.numpy()[order])
    ends = [i for i in range(50) if i == 49 or scores[order[i]] != scores[order[i + 1]]]
    first_full = next(i for i in ends if positives[i] == positives[-1])
    assert at_one.compute() == pytest.approx(positives[first_full] / (first_full + 1))


def test_errors() -> None:
    with pytest.raises(ValueError, match="one-dimensional tensor"):
        MeanAveragePrecision(rec_thresholds=torch.zeros(2, 2))
    with pytest.raises(TypeError, match="sequence of floats or a tensor"):
        MeanAveragePrecision(rec_thresholds={0.1, 0.2})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between 0 and 1"):
        MeanAveragePrecision(rec_thresholds=(0.0, 1.5))
    with pytest.raises(ValueError, match="Wrong `class_mean` parameter"):
        MeanAveragePrecision(class_mean="samples")
    with pytest.raises(TypeError, match="`y_pred` should be a float tensor"):
        MeanAveragePrecision().update((torch.tensor([0, 1]), torch.tensor([1, 0])))
    with pytest.raises(ValueError, match="fewer classes than y"):
        MeanAveragePrecision().update((torch.rand(2, 3), torch.tensor([0, 3])))
    with pytest.raises(ValueError, match="comprised of 0's and 1's"):
        MeanAveragePrecision().update((torch.rand(3), torch.tensor([0, 2, 1])))
    with pytest.raises(ValueError, match="NaN"):
        MeanAveragePrecision().update((torch.tensor([0.5, float("nan")]), torch.tensor([0, 1])))
    mixed = MeanAveragePrecision()
    mixed.update((torch.rand(2), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="one metric per kind of data"):
        mixed.update((torch.rand(2, 3), torch.tensor([0, 1])))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MeanAveragePrecision().update((torch.rand(1, 3), torch.tensor([2.0])))
    assert any("should be of dtype long" in str(w.message) for w in caught)
    with pytest.raises(NotComputableError, match="without any update"):
        MeanAveragePrecision().compute()
