from __future__ import annotations

from typing import Any

import pytest
import torch

from cadence import distributed as idist
from cadence.distributed import Backend


def test_queries_describe_one_process_without_a_process_group() -> None:
    assert not idist.is_distributed()
    assert (idist.get_rank(), idist.get_local_rank(), idist.get_world_size()) == (0, 0, 1)
    assert (idist.get_nproc_per_node(), idist.get_nnodes(), idist.get_node_rank()) == (1, 1, 0)
    assert idist.backend() is None
    assert idist.device() == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))


def test_backend_names_parse_and_compare_equal_to_strings() -> None:
    assert Backend.parse("gloo") is Backend.GLOO
    assert Backend.parse(Backend.NCCL) is Backend.NCCL
    assert Backend.GLOO == "gloo"


@pytest.mark.parametrize("name", ["mpi", "", 3])
def test_unknown_backend_is_rejected_with_the_choices(name: Any) -> None:
    with pytest.raises(ValueError, match="Available backends: 'gloo', 'nccl'"):
        Backend.parse(name)


def test_queries_inside_a_one_process_group() -> None:
    with idist.Parallel("gloo") as parallel:
        (found,) = parallel.run(lambda local_rank: (idist.is_distributed(), idist.backend(), idist.get_world_size()))
    assert found == (True, Backend.GLOO, 1)
    assert not idist.is_distributed()


def test_bad_local_rank_in_the_environment_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "two")
    with (
        idist.Parallel("gloo") as parallel,
        pytest.raises(ValueError, match="LOCAL_WORLD_SIZE='two' is not an integer"),
    ):
        parallel.run(lambda local_rank: idist.get_nproc_per_node())


def test_queries_in_two_processes(two_ranks: list[dict[str, Any]]) -> None:
    for rank, result in enumerate(two_ranks):
        assert result["context"] == {
            "rank": rank,
            "local_rank": rank,
            "world_size": 2,
            "nproc_per_node": 2,
            "nnodes": 1,
            "node_rank": 0,
            "backend": "gloo",
            "device": "cpu",
            "is_distributed": True,
        }
