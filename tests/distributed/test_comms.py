from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cadence import distributed as idist
from cadence.distributed import ReduceOp

# ---------------------------------------------------------------- one process: collectives are the identity


@given(value=st.one_of(st.integers(), st.floats(allow_nan=False)), op=st.sampled_from([*ReduceOp, "SUM", "max"]))
def test_all_reduce_of_a_number_in_one_process_returns_it_unchanged(value: float, op: ReduceOp | str) -> None:
    result = idist.all_reduce(value, op)
    assert result == value
    assert type(result) is type(value)


def test_all_reduce_of_a_tensor_in_one_process_returns_the_same_tensor() -> None:
    tensor = torch.tensor([1.0, 2.0])
    assert idist.all_reduce(tensor, ReduceOp.PRODUCT) is tensor
    assert tensor.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", ["SUM", "MIN", "MAX", "PRODUCT", "sum", "Product"])
def test_reduce_op_accepts_ignite_strings(name: str) -> None:
    assert ReduceOp.parse(name) is ReduceOp[name.upper()]


def test_reduce_op_maps_to_torch() -> None:
    assert ReduceOp.MIN.to_torch() == torch.distributed.ReduceOp.MIN


def test_unknown_reduce_op_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"'AVERAGE'.*'SUM'"):
        idist.all_reduce(1.0, "AVERAGE")


@pytest.mark.parametrize("value", ["text", [1, 2], None])
def test_all_reduce_rejects_values_that_are_not_numbers_or_tensors(value: Any) -> None:
    with pytest.raises(TypeError, match="all_reduce takes a tensor or a Python int/float"):
        idist.all_reduce(value)


def test_all_gather_in_one_process() -> None:
    rows = torch.arange(6).reshape(3, 2)
    assert torch.equal(idist.all_gather(rows), rows)
    assert idist.all_gather(torch.tensor(4.0)).tolist() == [4.0]
    assert idist.all_gather(3) == [3]
    assert idist.all_gather("name") == ["name"]
    assert idist.all_gather({"a": 1}) == [{"a": 1}]


def test_broadcast_in_one_process_returns_the_value() -> None:
    tensor = torch.ones(2)
    assert idist.broadcast(tensor) is tensor
    assert idist.broadcast("text", src=0) == "text"


@pytest.mark.parametrize("src", [1, -1, True, "0"])
def test_broadcast_rejects_a_source_outside_the_world(src: Any) -> None:
    with pytest.raises(ValueError, match=r"broadcast src must be a rank in \[0, 0\]"):
        idist.broadcast(1.0, src=src)


def test_barrier_in_one_process_returns() -> None:
    assert idist.barrier() is None


def test_one_rank_only_runs_on_rank_0_and_keeps_the_function_name() -> None:
    calls: list[int] = []

    @idist.one_rank_only(with_barrier=True)
    def record(value: int) -> int:
        calls.append(value)
        return value * 2

    assert record(4) == 8
    assert calls == [4]
    assert record.__name__ == "record"


def test_one_rank_only_for_a_rank_outside_the_world_is_an_error_at_call_time() -> None:
    @idist.one_rank_only(rank=3)
    def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(ValueError, match=r"one_rank_only\(rank=3\) but the world has 1 process"):
        never()


@pytest.mark.parametrize("rank", [-1, 1.5, None])
def test_one_rank_helpers_reject_bad_ranks(rank: Any) -> None:
    with pytest.raises(ValueError, match="rank must be a non-negative int"):
        idist.one_rank_only(rank=rank)
    with pytest.raises(ValueError, match="rank must be a non-negative int"), idist.one_rank_first(rank=rank):
        pass


def test_one_rank_first_for_a_rank_outside_the_world_is_an_error() -> None:
    with pytest.raises(ValueError, match="rank should be between 0 and 0, but given 1"), idist.one_rank_first(rank=1):
        pass


# ---------------------------------------------------------------- two processes (spawned and torchrun)


def test_all_reduce_in_two_processes(two_ranks: list[dict[str, Any]]) -> None:
    for result in two_ranks:
        found = result["collectives"]
        assert (found["sum_int"], found["sum_float"], found["min"], found["max"], found["product"]) == (
            3,
            2.0,
            1,
            2.0,
            6,
        )
        assert type(found["sum_int"]) is int and type(found["max"]) is float
        assert found["tensor_sum"] == [3.0, -1.0] and found["tensor_in_place"]
        assert found["tensor_max"] == [1, 5]


def test_all_gather_in_two_processes(two_ranks: list[dict[str, Any]]) -> None:
    for result in two_ranks:
        found = result["collectives"]
        assert found["gather_uneven"] == [[0.0, 0.0], [10.0, 10.0], [11.0, 11.0]]
        assert found["gather_scalar"] == [0.0, 1.5]
        assert found["gather_bool"] == [True, False]
        assert found["gather_number"] == [0, 2]
        assert found["gather_string"] == ["rank0", "rank1"]
        assert found["gather_object"] == [{"rank": 0}, {"rank": 1}]


def test_broadcast_in_two_processes(two_ranks: list[dict[str, Any]]) -> None:
    for result in two_ranks:
        found = result["collectives"]
        assert found["broadcast_tensor"] == [7, 8, 9]
        assert found["broadcast_number"] == 2.5
        assert found["broadcast_string"] == "from 1"
    assert two_ranks[1]["collectives"]["broadcast_in_place"] == [4, 5, 6]


def test_one_rank_first_and_one_rank_only_in_two_processes(spawned: list[dict[str, Any]]) -> None:
    assert [result["ordering"]["first_saw_prepared"] for result in spawned] == [True, True]
    assert [result["ordering"]["only"] for result in spawned] == ["wrote", None]
    assert spawned[0]["once_file"] == "rank 0\n"


def test_subgroups_and_shaped_gathers_in_two_processes(two_ranks: list[dict[str, Any]]) -> None:
    first, last = (result["collectives"] for result in two_ranks)
    assert first["group_reduce"] == [1.0] and last["group_reduce"] == [2.0]
    assert first["group_gather"] == "r0" and last["group_gather"] == ["r1"]
    assert (first["not_in_group"], last["not_in_group"]) == (True, False)
    for found in (first, last):
        assert found["shaped"] == [[[0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]]
    assert (first["local_first"], last["local_first"]) == (0, 1)


def test_broadcast_refuses_what_ignite_refuses() -> None:
    with pytest.raises(TypeError, match="Unhandled input type list"):
        idist.broadcast([0, 1, 2], src=0)
    with pytest.raises(ValueError, match="Source data can not be None"):
        idist.broadcast(None, src=0)
