from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from cadence.data import (
    ReproducibleBatchSampler,
    ReproducibleSampler,
    reproducible_dataloader,
    set_data_position,
    skip_batches,
)


def as_lists(data: Any) -> list[list[int]]:
    return [torch.as_tensor(batch).reshape(-1).tolist() for batch in data]


def uninterrupted(data: Any, epoch: int) -> list[list[int]]:
    assert set_data_position(data, epoch=epoch)
    return as_lists(data)


@pytest.mark.parametrize(
    "make",
    [
        lambda: reproducible_dataloader(list(range(23)), 4, seed=3),
        lambda: DataLoader(list(range(23)), batch_size=4, sampler=ReproducibleSampler(23, seed=3)),
        lambda: DataLoader(list(range(23)), batch_size=4, drop_last=True, sampler=ReproducibleSampler(23, seed=3)),
        lambda: DataLoader(list(range(23)), batch_size=None, sampler=ReproducibleSampler(23, seed=3)),
        lambda: ReproducibleBatchSampler(23, 4, seed=3),
    ],
    ids=["batch_sampler", "sampler", "sampler_drop_last", "no_batching", "sampler_itself"],
)
def test_set_data_position_resumes_any_resumable_layout(make: Any) -> None:
    data = make()
    whole = uninterrupted(data, 2)
    assert whole != uninterrupted(data, 1)
    for start in range(len(whole) + 1):
        assert set_data_position(data, epoch=2, batch_index=start)
        assert as_lists(data) == whole[start:]


def test_set_data_position_sets_the_epoch_of_other_samplers_and_asks_for_skipping() -> None:
    sampler = DistributedSampler(range(8), num_replicas=1, rank=0)
    loader = DataLoader(list(range(8)), batch_size=2, sampler=sampler)
    assert not set_data_position(loader, epoch=5, batch_index=1)
    assert sampler.epoch == 5
    assert not set_data_position([[1], [2]], epoch=0, batch_index=1)
    assert not set_data_position(DataLoader(list(range(4)), batch_size=2), epoch=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epoch": -1}, "epoch must be an int >= 0"),
        ({"epoch": 1.0}, "epoch must be an int >= 0"),
        ({"epoch": 0, "batch_index": -2}, "batch_index must be an int >= 0"),
        ({"epoch": 0, "batch_index": 99}, "batch_index=99 is past the end of the epoch"),
    ],
)
def test_set_data_position_rejects_bad_positions(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        set_data_position(ReproducibleBatchSampler(10, 2), **kwargs)


def test_skip_batches_discards_exactly_count_items() -> None:
    reads: list[int] = []

    def batches() -> Any:
        for index in range(6):
            reads.append(index)
            yield index

    rest = skip_batches(batches(), 4)
    assert reads == [0, 1, 2, 3]
    assert list(rest) == [4, 5]
    assert list(skip_batches([1, 2], 0)) == [1, 2]
    assert list(skip_batches([1, 2], 2)) == []


def test_skip_batches_reports_data_that_ends_too_early_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="the data ended after 2 batches while skipping 5"):
        skip_batches(iter([1, 2]), 5)
    with pytest.raises(ValueError, match="count must be an int >= 0"):
        skip_batches([1], -1)
    with pytest.raises(ValueError, match="count must be an int >= 0"):
        skip_batches([1], True)
