from __future__ import annotations

from typing import Any

import pytest
import torch

from cadence import distributed as idist
from cadence.distributed import utils as idist_utils


def test_new_group_in_one_process_is_the_rank_list() -> None:
    assert idist.new_group([0]) == [0]


@pytest.mark.parametrize("ranks", [["a"], 1, [0, True], None])
def test_new_group_rejects_anything_but_a_list_of_ints(ranks: Any) -> None:
    with pytest.raises(ValueError, match="Argument ranks should be list of int"):
        idist.new_group(ranks)


def test_collectives_check_the_group_argument() -> None:
    with pytest.raises(ValueError, match="Argument group should be list of int or ProcessGroup"):
        idist.all_reduce(torch.ones(1), group="abc")
    with pytest.raises(ValueError, match="Argument group should be list of int or ProcessGroup"):
        idist.all_gather(torch.ones(1), group="abc")
    assert idist.all_reduce(3, group=[0]) == 3
    assert idist.all_gather("x", group=[0]) == ["x"]
    assert not idist_utils._rank_not_in_group([0])


def test_all_gather_tensors_with_shapes_in_one_process() -> None:
    tensor = torch.arange(6.0).reshape(2, 3)
    (gathered,) = idist.all_gather_tensors_with_shapes(tensor, [[2, 3]])
    assert torch.equal(gathered, tensor)
    with pytest.raises(ValueError, match="one 2-dim shape per participating process"):
        idist.all_gather_tensors_with_shapes(tensor, [[2, 3], [1, 3]])
    with pytest.raises(ValueError, match=r"shapes\[0\]=\[3, 3\]"):
        idist.all_gather_tensors_with_shapes(tensor, [[3, 3]])
    with pytest.raises(TypeError, match="takes a tensor"):
        idist.all_gather_tensors_with_shapes([1], [[1]])  # type: ignore[arg-type]


def test_collective_ignite_errors_and_ops() -> None:
    with pytest.raises(TypeError, match="Unhandled input type"):
        idist.all_reduce("abc")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="Unsupported reduction operation"):
        idist.all_reduce(10, op="ABC")
    assert idist.all_reduce(torch.tensor([True]), "AND").tolist() == [True]
    with pytest.raises(ValueError, match="Source data can not be None"):
        idist.broadcast(None, src=0)
    assert idist.broadcast(1.5, src=0, safe_mode=True) == 1.5
    value = torch.zeros(1)
    assert idist.all_gather(tensor=value).tolist() == [0.0]


@pytest.mark.parametrize("local", [True, False])
def test_one_rank_first_local_or_global(local: bool) -> None:
    with idist.one_rank_first(0, local=local):
        pass
    with pytest.raises(ValueError, match="rank should be between 0 and 0, but given 3"), idist.one_rank_first(3, local):
        pass
