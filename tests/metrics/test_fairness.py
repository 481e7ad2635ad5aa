"""Subgroup metrics against fairlearn (demographic parity, accuracy difference) and direct counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from fairlearn.metrics import MetricFrame, demographic_parity_difference
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

from cadence.metrics import Accuracy, NotComputableError
from cadence.metrics.fairness import (
    DemographicParityDifference,
    SelectionRate,
    SubgroupAccuracyDifference,
    SubgroupDifference,
    SubgroupMetric,
)
from tests.metrics._data import SETTINGS, cuts, generator, split


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31), n=st.integers(4, 40), data=st.data())
def test_binary_gaps_match_fairlearn(seed: int, n: int, data: Any) -> None:
    g = generator(seed)
    y_pred, y = torch.randint(0, 2, (n,), generator=g), torch.randint(0, 2, (n,), generator=g)
    groups = torch.arange(n) % 3  # every group has samples
    parity, accuracy_gap = DemographicParityDifference(groups=[0, 1, 2]), SubgroupAccuracyDifference(groups=[0, 1, 2])
    for batch in split([y_pred, y, groups], data.draw(cuts(n))):
        parity.update(batch)
        accuracy_gap.update(batch)
    expected = demographic_parity_difference(y.numpy(), y_pred.numpy(), sensitive_features=groups.numpy())
    assert parity.compute() == pytest.approx(expected)
    frame = MetricFrame(metrics=accuracy_score, y_true=y.numpy(), y_pred=y_pred.numpy(), sensitive_features=groups)
    assert accuracy_gap.compute() == pytest.approx(frame.difference())


def test_multiclass_parity_is_the_largest_gap_over_classes() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.0, 0.1, 0.9]])
    parity = DemographicParityDifference(groups=[0, 1])
    parity.update((scores, torch.zeros(4), torch.tensor([0, 0, 1, 1])))
    rates = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    assert parity.compute() == pytest.approx(np.max(rates.max(0) - rates.min(0)))


def test_selection_rates() -> None:
    rate = SelectionRate(is_multilabel=True)
    rate.update((torch.tensor([[1, 0], [1, 1], [0, 0], [1, 0]]), torch.zeros(4, 2)))
    assert rate.compute().tolist() == [0.75, 0.25]
    with pytest.raises(NotComputableError):
        SelectionRate().compute()


def test_subgroup_metric_gives_each_group_its_value() -> None:
    per_group = SubgroupMetric(Accuracy(), groups=[3, 7])
    per_group.update((torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1]), torch.tensor([7, 7, 7])))
    assert per_group.compute() == {7: pytest.approx(2 / 3)}


def test_errors() -> None:
    gap = SubgroupDifference(Accuracy(), groups=[0, 1])
    with pytest.raises(NotComputableError, match="at least one example"):
        gap.compute()
    gap.update((torch.tensor([1, 0]), torch.tensor([1, 1]), torch.tensor([0, 0])))
    with pytest.raises(NotComputableError, match="at least two unique subgroups"):
        gap.compute()
    with pytest.raises(ValueError, match="same batch size"):
        gap.update((torch.tensor([1, 0]), torch.tensor([1]), torch.tensor([0, 0])))
    with pytest.raises(TypeError, match="group_labels"):
        gap.update((torch.tensor([1, 0]), torch.tensor([1, 1])))
    with pytest.raises(TypeError, match="must be numbers"):
        SubgroupDifference(Accuracy(), groups=["a", "b"])
    with pytest.raises(ValueError, match="distinct groups"):
        SubgroupDifference(Accuracy(), groups=[0, 0])
    with pytest.raises(TypeError, match="Metric"):
        SubgroupDifference("accuracy", groups=[0, 1])  # type: ignore[arg-type]


def test_state_dict_resumes_every_group() -> None:
    parity = DemographicParityDifference(groups=[0, 1])
    parity.update((torch.tensor([[0.1, 0.9], [0.1, 0.9]]), torch.tensor([1, 1]), torch.tensor([0, 0])))
    resumed = DemographicParityDifference(groups=[0, 1])
    resumed.load_state_dict(parity.state_dict())
    resumed.update((torch.tensor([[0.9, 0.1], [0.9, 0.1]]), torch.tensor([1, 1]), torch.tensor([1, 1])))
    assert resumed.compute() == 1.0
    with pytest.raises(ValueError, match="Cannot load"):
        DemographicParityDifference(groups=[0, 2]).load_state_dict(parity.state_dict())
