from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cadence.distributed import UnpaddedDistributedSampler


@given(size=st.integers(0, 200), world_size=st.integers(1, 9), shuffle=st.booleans(), epoch=st.integers(0, 5))
def test_every_index_goes_to_exactly_one_rank(size: int, world_size: int, shuffle: bool, epoch: int) -> None:
    shares = []
    for rank in range(world_size):
        sampler = UnpaddedDistributedSampler(range(size), num_replicas=world_size, rank=rank, shuffle=shuffle)
        sampler.set_epoch(epoch)
        share = list(sampler)
        assert len(share) == len(sampler)
        shares.append(share)
    assert sorted(index for share in shares for index in share) == list(range(size))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_shuffle_depends_on_seed_and_epoch_only() -> None:
    def order(epoch: int, seed: int = 0) -> list[int]:
        sampler = UnpaddedDistributedSampler(range(50), num_replicas=1, rank=0, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert order(1, seed=5) != order(1)
    assert sorted(order(3)) == list(range(50))


def test_defaults_come_from_the_current_process() -> None:
    sampler = UnpaddedDistributedSampler(range(3))
    assert (sampler.num_replicas, sampler.rank, list(sampler)) == (1, 0, [0, 1, 2])


def test_state_dict_round_trip() -> None:
    sampler = UnpaddedDistributedSampler(range(10), num_replicas=2, rank=0, shuffle=True)
    sampler.set_epoch(4)
    restored = UnpaddedDistributedSampler(range(10), num_replicas=2, rank=0, shuffle=True)
    restored.load_state_dict(sampler.state_dict())
    assert list(restored) == list(sampler)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_replicas": 0, "rank": 0}, "num_replicas must be a positive int"),
        ({"num_replicas": 2, "rank": 2}, r"rank must be an int in \[0, 1\]"),
        ({"num_replicas": 2, "rank": -1}, r"rank must be an int in \[0, 1\]"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UnpaddedDistributedSampler(range(4), **kwargs)


def test_dataset_without_len_is_rejected() -> None:
    with pytest.raises(TypeError, match="needs a dataset with len"):
        UnpaddedDistributedSampler(iter(range(3)))  # type: ignore[arg-type]


def test_bad_state_dict_is_rejected() -> None:
    with pytest.raises(ValueError, match="with an int 'epoch'"):
        UnpaddedDistributedSampler(range(4)).load_state_dict({"step": 1})


def test_distributed_proxy_sampler_shares_out_the_wrapped_draws() -> None:
    from torch.utils.data import DistributedSampler, Sampler, WeightedRandomSampler

    from cadence.distributed import DistributedProxySampler

    weights = torch.ones(20)
    sampler = WeightedRandomSampler(weights, 30)
    proxies = [DistributedProxySampler(sampler, num_replicas=4, rank=rank) for rank in range(4)]
    for epoch in range(3):
        torch.manual_seed(epoch)
        expected = list(sampler)
        state = torch.get_rng_state()
        shares = []
        for proxy in proxies:
            proxy.set_epoch(epoch)
            shares.append(list(proxy))
        assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone
        assert all(len(share) == 8 for share in shares)
        assert set().union(*shares) == set(expected)
    with pytest.raises(TypeError, match="instance of torch Sampler"):
        DistributedProxySampler(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="should have length"):
        DistributedProxySampler(Sampler())
    with pytest.raises(TypeError, match="must not be a distributed sampler already"):
        DistributedProxySampler(DistributedSampler(range(4), num_replicas=2, rank=0))
