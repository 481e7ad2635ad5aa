from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DistributedSampler, SequentialSampler

from cadence import distributed as idist
from cadence.distributed import Sharding, UnpaddedDistributedSampler
from tests.distributed import _jobs


def test_auto_model_in_one_process_moves_and_does_not_wrap() -> None:
    model = nn.Linear(3, 2)
    assert idist.auto_model(model, sync_bn=True) is model


def test_auto_model_rejects_what_is_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"needs a torch\.nn\.Module, got function"):
        idist.auto_model(lambda x: x)  # type: ignore[arg-type]


def test_auto_optim_returns_the_optimizer() -> None:
    optimizer = torch.optim.Adam(nn.Linear(3, 2).parameters())
    assert idist.auto_optim(optimizer) is optimizer
    with pytest.raises(TypeError, match=r"needs a torch\.optim\.Optimizer, got list"):
        idist.auto_optim([])  # type: ignore[arg-type]


def test_auto_dataloader_in_one_process_is_a_plain_loader() -> None:
    loader = idist.auto_dataloader(list(range(7)), batch_size=3, shuffle=False, sharding=Sharding.PAD)
    assert [batch.tolist() for batch in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert isinstance(loader.sampler, SequentialSampler)
    assert loader.pin_memory == torch.cuda.is_available()  # as in Ignite: pinned when batches go to a GPU


def test_auto_dataloader_rejects_an_unknown_sharding() -> None:
    with pytest.raises(ValueError, match="Unknown sharding 'even'"):
        idist.auto_dataloader([1, 2], sharding="even")


def test_sharding_in_two_processes(two_ranks: list[dict[str, Any]]) -> None:
    exact = [result["sharding"]["exact"] for result in two_ranks]
    assert exact == [[[0, 2], [4, 6], [8, 10]], [[1, 3], [5, 7], [9]]]
    padded = [sorted(i for batch in result["sharding"]["padded"] for i in batch) for result in two_ranks]
    assert [len(share) for share in padded] == [6, 6]
    assert set(padded[0]) | set(padded[1]) == set(range(11))
    errors = two_ranks[0]["sharding"]["errors"]
    assert "the sampler must split data among ranks; got SequentialSampler" in errors[0]
    assert "batch_size=1 is the global batch and must be at least the world size 2" in errors[1]
    assert "cannot use Sharding.EXACT" in errors[2]
    assert two_ranks[1]["sharding"]["warned"] == [
        "Found batch_sampler in provided kwargs. Please, make sure that it is compatible with distributed "
        "configuration",
        "Found distributed sampler with rank=0, but process rank is 1",
        "Found distributed sampler with num_replicas=3, but world size is 2",
    ]
    shards = [[i for batch in result["sharding"]["reproducible"] for i in batch] for result in two_ranks]
    assert [len(b) for b in two_ranks[0]["sharding"]["reproducible"]] == [2, 2, 2]  # global batch 4 -> 2 per rank
    assert len(shards[0]) == len(shards[1]) == 6 and set(shards[0]) | set(shards[1]) == set(range(11))
    assert shards[0] != sorted(shards[0]) or shards[1] != sorted(shards[1])  # shuffled by (seed, epoch)


def test_samplers_are_distributed_ones() -> None:
    data = list(range(4))
    sampler = UnpaddedDistributedSampler(data, num_replicas=1, rank=0)
    assert idist.auto_dataloader(data, sampler=sampler).sampler is sampler
    padded = DistributedSampler(data, num_replicas=1, rank=0)
    assert idist.auto_dataloader(data, sampler=padded).sampler is padded


@pytest.fixture(scope="module")
def single_process_weights() -> dict[str, torch.Tensor]:
    return _jobs.train()


def test_ddp_training_matches_on_both_ranks_and_a_single_process_run(
    two_ranks: list[dict[str, Any]], single_process_weights: dict[str, torch.Tensor]
) -> None:
    rank0, rank1 = (result["weights"] for result in two_ranks)
    assert rank0.keys() == rank1.keys() == single_process_weights.keys()
    for name, expected in single_process_weights.items():
        assert torch.allclose(rank0[name], rank1[name], atol=1e-6), name
        assert torch.allclose(rank0[name], expected, atol=1e-5), name
    initial = nn.Linear(_jobs.FEATURES, 16)
    assert not torch.allclose(rank0["0.bias"], initial.bias)
