import multiprocessing
import os
import time
from typing import Any

import pytest
import torch
import torch.distributed as dist
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, DistributedSampler

from cadence.data import ReproducibleBatchSampler, ReproducibleSampler, ResumableSampler
from cadence.distributed.process_group import free_port as _free_port

seeds = st.integers(min_value=0, max_value=2**64 - 1)
epochs = st.integers(min_value=0, max_value=10_000)
lengths = st.integers(min_value=0, max_value=200)
batch_sizes = st.integers(min_value=1, max_value=17)


def epoch_batches(sampler: ReproducibleBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


@settings(max_examples=60, deadline=None)
@given(seeds, epochs, lengths, batch_sizes, st.booleans(), st.booleans())
def test_order_depends_only_on_seed_and_epoch(
    seed: int, epoch: int, length: int, batch_size: int, shuffle: bool, drop_last: bool
) -> None:
    options: dict[str, Any] = {"seed": seed, "shuffle": shuffle, "drop_last": drop_last}
    fresh = ReproducibleBatchSampler(length, batch_size, **options)
    used = ReproducibleBatchSampler(list(range(length)), batch_size, **options)
    for other_epoch in (epoch + 1, 0, epoch):  # iteration history must not matter
        epoch_batches(used, other_epoch)
    assert epoch_batches(fresh, epoch) == epoch_batches(used, epoch) == list(used)


@settings(max_examples=60, deadline=None)
@given(seeds, epochs, lengths, batch_sizes, st.booleans())
def test_one_replica_yields_each_index_once_in_full_batches(
    seed: int, epoch: int, length: int, batch_size: int, drop_last: bool
) -> None:
    sampler = ReproducibleBatchSampler(length, batch_size, seed=seed, drop_last=drop_last)
    batches = epoch_batches(sampler, epoch)
    assert len(batches) == len(sampler) == (length // batch_size if drop_last else -(-length // batch_size))
    assert all(len(batch) == batch_size for batch in batches[:-1])
    flat = [index for batch in batches for index in batch]
    kept = len(batches) * batch_size if drop_last else length
    assert len(flat) == len(set(flat)) == kept
    assert set(flat) <= set(range(length))


def test_shuffle_changes_with_epoch_and_seed_and_off_means_in_order() -> None:
    sampler = ReproducibleBatchSampler(100, 10, seed=1)
    assert epoch_batches(sampler, 0) != epoch_batches(sampler, 1)
    assert epoch_batches(ReproducibleBatchSampler(100, 10, seed=2), 0) != epoch_batches(sampler, 0)
    ordered = ReproducibleSampler(7, shuffle=False)
    ordered.set_epoch(5)
    assert list(ordered) == list(range(7))


@settings(max_examples=80, deadline=None)
@given(seeds, epochs, lengths, batch_sizes, st.integers(1, 4), st.booleans(), st.data())
def test_resume_from_yields_exactly_the_tail_of_the_epoch(
    seed: int, epoch: int, length: int, batch_size: int, replicas: int, drop_last: bool, data: st.DataObject
) -> None:
    rank = data.draw(st.integers(0, replicas - 1), label="rank")
    sampler = ReproducibleBatchSampler(
        length, batch_size, seed=seed, drop_last=drop_last, num_replicas=replicas, rank=rank
    )
    whole = epoch_batches(sampler, epoch)
    start = data.draw(st.integers(0, len(sampler)), label="start")
    sampler.resume_from(start)
    assert list(sampler) == whole[start:]
    assert list(sampler) == whole  # resume_from is one-shot


def test_the_first_iterator_advanced_takes_the_resume_position() -> None:
    sampler = ReproducibleBatchSampler(10, 2, shuffle=False)
    unused, used = iter(sampler), iter(sampler)  # a DataLoader with workers calls iter() twice
    sampler.resume_from(3)
    assert list(used) == [[6, 7], [8, 9]]
    assert list(unused) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


@settings(max_examples=40, deadline=None)
@given(seeds, lengths, st.data())
def test_index_sampler_resumes_at_any_index(seed: int, length: int, data: st.DataObject) -> None:
    sampler = ReproducibleSampler(length, seed=seed)
    sampler.set_epoch(3)
    whole = list(sampler)
    start = data.draw(st.integers(0, len(sampler)))
    sampler.resume_from(start)
    assert list(sampler) == whole[start:]


def test_resume_is_constant_time_on_a_million_items() -> None:
    sampler = ReproducibleBatchSampler(1_000_000, 1, seed=0)
    began = time.perf_counter()
    sampler.set_epoch(3)
    sampler.resume_from(500_000)
    first = next(iter(sampler))
    elapsed = time.perf_counter() - began
    assert elapsed < 2.0  # about 20 ms: one randperm and a slice, no skipped batch is produced
    same_order = ReproducibleSampler(1_000_000, seed=0)
    same_order.set_epoch(3)
    assert first == [list(same_order)[500_000]]


@settings(max_examples=60, deadline=None)
@given(seeds, epochs, st.integers(0, 120), batch_sizes, st.integers(1, 5), st.booleans())
def test_ranks_share_one_global_order_and_cover_the_dataset(
    seed: int, epoch: int, length: int, batch_size: int, replicas: int, drop_last: bool
) -> None:
    def shard(rank: int) -> list[int]:
        sampler = ReproducibleSampler(length, seed=seed, drop_last=drop_last, num_replicas=replicas, rank=rank)
        sampler.set_epoch(epoch)
        return list(sampler)

    shards = [shard(rank) for rank in range(replicas)]
    assert len({len(s) for s in shards}) == 1
    interleaved = [s[i] for i in range(len(shards[0])) for s in shards]  # strided: rank r takes r, r + R, ...
    single = ReproducibleSampler(length, seed=seed, num_replicas=1)
    single.set_epoch(epoch)
    global_order = list(single)
    if drop_last:
        assert interleaved == global_order[: length // replicas * replicas]
    else:
        assert interleaved[:length] == global_order
        assert set(interleaved) == set(range(length))
    batch_lengths = {
        len(ReproducibleBatchSampler(length, batch_size, drop_last=drop_last, num_replicas=replicas, rank=rank))
        for rank in range(replicas)
    }
    assert len(batch_lengths) == 1


@pytest.mark.parametrize("length", [10, 11, 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shards_match_torch_distributed_sampler(length: int, drop_last: bool) -> None:
    for rank in range(4):
        ours = ReproducibleSampler(length, shuffle=False, drop_last=drop_last, num_replicas=4, rank=rank)
        torchs = DistributedSampler(range(length), num_replicas=4, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(torchs)
        assert len(ours) == len(torchs)


def _distributed_shard(rank: int, port: int, results: "multiprocessing.Queue[Any]") -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        sampler = ReproducibleBatchSampler(9, 2, seed=4)
        sampler.set_epoch(1)
        results.put((rank, list(sampler), sampler.state_dict()))
    finally:
        dist.destroy_process_group()


def test_world_size_and_rank_come_from_torch_distributed() -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    port = _free_port()
    processes = [context.Process(target=_distributed_shard, args=(rank, port, results)) for rank in range(2)]
    for process in processes:
        process.start()
    received = sorted(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    for rank, batches, state in received:
        expected = ReproducibleBatchSampler(9, 2, seed=4, num_replicas=2, rank=rank)
        assert batches == epoch_batches(expected, 1)
        assert (state["num_replicas"], state["rank"]) == (2, rank)


def test_state_dict_round_trip_takes_the_epoch_and_ignores_the_rank() -> None:
    saved = ReproducibleBatchSampler(50, 4, seed=9, num_replicas=2, rank=0)
    saved.set_epoch(6)
    state = saved.state_dict()
    assert state == {
        "kind": "ReproducibleBatchSampler",
        "epoch": 6,
        "seed": 9,
        "dataset_length": 50,
        "batch_size": 4,
        "num_replicas": 2,
        "rank": 0,
        "shuffle": True,
        "drop_last": False,
    }
    loaded = ReproducibleBatchSampler(50, 4, seed=9, num_replicas=2, rank=1)
    loaded.load_state_dict(state)
    assert loaded.epoch == 6
    assert list(loaded) == epoch_batches(ReproducibleBatchSampler(50, 4, seed=9, num_replicas=2, rank=1), 6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 64}, "checkpoint was made with batch_size=32, this sampler has batch_size=64"),
        ({"seed": 1}, "checkpoint was made with seed=0, this sampler has seed=1"),
        ({"length": 99}, "checkpoint was made with dataset_length=100, this sampler has dataset_length=99"),
        ({"shuffle": False}, "shuffle=True, this sampler has shuffle=False"),
        ({"drop_last": True}, "drop_last=False, this sampler has drop_last=True"),
        ({"num_replicas": 2, "rank": 1}, "num_replicas=1, this sampler has num_replicas=2"),
    ],
)
def test_load_state_dict_reports_both_values_of_a_mismatch(changes: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"length": 100, "batch_size": 32, "seed": 0}
    state = ReproducibleBatchSampler(options["length"], options["batch_size"], seed=0).state_dict()
    options.update(changes)
    length, batch_size = options.pop("length"), options.pop("batch_size")
    sampler = ReproducibleBatchSampler(length, batch_size, **options)
    with pytest.raises(ValueError, match=message):
        sampler.load_state_dict(state)
    assert sampler.epoch == 0


def global_batches(replicas: int, *, epoch: int, start: int = 0) -> list[list[int]]:
    """The sorted indices of each global batch of 8 (out of 64) over ``replicas`` ranks, from batch ``start``."""
    samplers = [
        ReproducibleBatchSampler(64, 8 // replicas, seed=3, num_replicas=replicas, rank=r) for r in range(replicas)
    ]
    for sampler in samplers:
        sampler.set_epoch(epoch)
        sampler.resume_from(start)
    return [sorted(index for batch in batches for index in batch) for batches in zip(*samplers, strict=True)]


@pytest.mark.parametrize(("saved_replicas", "replicas"), [(2, 1), (1, 2), (2, 4)])
def test_a_batch_sampler_resumes_on_another_world_size_at_the_same_global_batch(
    saved_replicas: int, replicas: int
) -> None:
    saved = ReproducibleBatchSampler(64, 8 // saved_replicas, seed=3, num_replicas=saved_replicas, rank=0)
    saved.set_epoch(2)
    loaded = ReproducibleBatchSampler(64, 8 // replicas, seed=3, num_replicas=replicas, rank=replicas - 1)
    loaded.load_state_dict(saved.state_dict())
    assert loaded.epoch == 2
    assert global_batches(replicas, epoch=2, start=3) == global_batches(saved_replicas, epoch=2)[3:]


def test_another_world_size_with_another_global_batch_is_refused() -> None:
    state = ReproducibleBatchSampler(64, 8, num_replicas=2, rank=0).state_dict()
    with pytest.raises(ValueError, match="num_replicas=2, this sampler has num_replicas=1"):
        ReproducibleBatchSampler(64, 8).load_state_dict(state)
    with pytest.raises(ValueError, match="num_replicas=2, this sampler has num_replicas=1"):
        ReproducibleSampler(64).load_state_dict(ReproducibleSampler(64, num_replicas=2, rank=0).state_dict())


def test_load_state_dict_rejects_wrong_keys_kind_and_type() -> None:
    batch_sampler = ReproducibleBatchSampler(10, 2)
    index_sampler = ReproducibleSampler(10)
    with pytest.raises(ValueError, match=r"missing \['batch_size'\]"):
        batch_sampler.load_state_dict(index_sampler.state_dict())
    with pytest.raises(ValueError, match="holds a ReproducibleBatchSampler state, this is a ReproducibleSampler"):
        index_sampler.load_state_dict({k: v for k, v in batch_sampler.state_dict().items() if k != "batch_size"})
    with pytest.raises(TypeError, match="must be a mapping"):
        index_sampler.load_state_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        index_sampler.load_state_dict({**index_sampler.state_dict(), "epoch": -1})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"data_source_or_length": 5, "batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"data_source_or_length": 5, "batch_size": 2.0}, TypeError, "batch_size must be an int"),
        ({"data_source_or_length": -1, "batch_size": 2}, ValueError, "dataset length must be >= 0"),
        ({"data_source_or_length": iter([1]), "batch_size": 2}, TypeError, "map-style dataset"),
        ({"data_source_or_length": 5, "batch_size": 2, "seed": -3}, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        ({"data_source_or_length": 5, "batch_size": 2, "seed": "1"}, TypeError, "seed must be an int"),
        ({"data_source_or_length": 5, "batch_size": 2, "num_replicas": 0}, ValueError, "num_replicas must be"),
        ({"data_source_or_length": 5, "batch_size": 2, "num_replicas": 2}, ValueError, "rank is needed"),
        ({"data_source_or_length": 5, "batch_size": 2, "num_replicas": 2, "rank": 2}, ValueError, r"\[0, 2\)"),
        ({"data_source_or_length": 5, "batch_size": 2, "worker_seed_generator": 3}, TypeError, "torch.Generator"),
    ],
)
def test_constructor_rejects_bad_input(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ReproducibleBatchSampler(**kwargs)


def test_set_epoch_and_resume_from_reject_bad_input() -> None:
    sampler = ReproducibleBatchSampler(10, 3)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        sampler.set_epoch(-1)
    with pytest.raises(TypeError, match="epoch must be an int"):
        sampler.set_epoch(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_index=5 is past the end of the epoch, which has 4 steps"):
        sampler.resume_from(5)
    sampler.resume_from(4)
    assert list(sampler) == []


def test_worker_seed_generator_is_reseeded_from_seed_and_epoch() -> None:
    generator = torch.Generator()
    sampler = ReproducibleSampler(10, seed=3, worker_seed_generator=generator)
    sampler.set_epoch(2)
    first = torch.randint(0, 2**62, (1,), generator=generator)
    iter(sampler)  # a DataLoader draws its worker base seed right after calling iter() on its sampler
    assert torch.equal(torch.randint(0, 2**62, (1,), generator=generator), first)
    sampler.set_epoch(3)
    assert not torch.equal(torch.randint(0, 2**62, (1,), generator=generator), first)


def test_samplers_follow_the_protocol_and_work_in_a_dataloader() -> None:
    index_sampler = ReproducibleSampler(10, seed=2)
    assert isinstance(index_sampler, ResumableSampler)
    assert isinstance(ReproducibleBatchSampler(10, 2), ResumableSampler)
    assert not isinstance(DistributedSampler(range(4), num_replicas=1, rank=0), ResumableSampler)
    loader = DataLoader(range(10), batch_size=4, sampler=index_sampler)
    assert torch.cat(list(loader)).tolist() == list(index_sampler)
