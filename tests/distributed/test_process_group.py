from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from cadence import distributed as idist
from cadence.distributed import utils as idist_utils
from cadence.distributed.comp_models import registered_computation_models
from cadence.distributed.comp_models.base import ComputationModel


def test_initialize_makes_a_group_of_one_and_finalize_restores_the_environment() -> None:
    before = dict(os.environ)
    idist.initialize("gloo")
    try:
        assert dist.is_initialized() and idist.model_name() == "native-dist"
        assert str(idist.backend()) == "gloo" and f"{idist.backend()}" == "gloo"
        assert idist_utils._model.name == "native-dist"
        assert idist_utils._model._init_method == "env://"
        with pytest.raises(RuntimeError, match="already initialized"):
            idist.initialize("gloo")
    finally:
        idist.finalize()
    assert not dist.is_initialized() and dict(os.environ) == before
    assert idist.model_name() == "serial" and idist_utils._model.name == "serial"


def test_initialize_with_a_file_init_method(tmp_path: Path) -> None:
    method = f"file://{tmp_path}/shared"
    idist.initialize("gloo", init_method=method)
    try:
        assert idist_utils._model._init_method == method
        assert idist.all_reduce(torch.tensor([2.0])).tolist() == [2.0]
    finally:
        idist.finalize()


@pytest.mark.parametrize(
    ("backend", "kwargs", "error", "match"),
    [
        ("horovod", {}, ValueError, "Horovod is not supported; cadence runs on torch.distributed"),
        ("xla-tpu", {}, ValueError, "Backend should be one of"),
        ("gloo", {"init_method": "tcp://10.0.0.1:2345"}, ValueError, "will hang"),
        ("gloo", {"rank": 0}, ValueError, "rank and world_size should be None"),
    ],
)
def test_initialize_rejects_bad_settings(backend: str, kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        idist.initialize(backend, **kwargs)
    assert not dist.is_initialized()


def test_initialize_needs_the_whole_launcher_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(RuntimeError, match="should define env variables"):
        idist.initialize("gloo")


def test_finalize_without_a_group_is_a_no_op() -> None:
    idist.finalize()
    idist.sync()
    assert not dist.is_initialized()


def test_spawn_rejects_other_frameworks_and_options() -> None:
    with pytest.raises(ValueError, match="PyTorch/XLA"):
        idist.spawn("xla-tpu", print, args=())
    with pytest.raises(TypeError, match="unexpected options"):
        idist.spawn("gloo", print, args=(), colour="red")
    with pytest.raises(ValueError, match="join=True"):
        idist.spawn("gloo", print, args=(), join=False)


def test_show_config_logs_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    from cadence.utils import setup_logger

    setup_logger("cadence.distributed.utils", reset=True)  # print to this test's captured stderr
    idist.show_config()
    err = capsys.readouterr().err
    assert "distributed configuration: serial" in err and "backend: None" in err and "world size: 1" in err


def test_queries_and_models_without_a_group() -> None:
    assert "gloo" in idist.available_backends()
    assert isinstance(idist.hostname(), str) and idist.hostname()
    assert [model.name for model in registered_computation_models] == ["serial", "native-dist"]
    model = idist_utils._model
    assert isinstance(model, ComputationModel)
    assert (model.get_rank(), model.get_world_size(), model.backend()) == (0, 1, None)
    assert model._get_max_length("abc", torch.device("cpu")) == 3
    idist_utils._set_model(model)


def test_set_local_rank_is_used_without_local_rank_in_the_environment() -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        idist.set_local_rank(-1)
    idist.initialize("gloo")
    try:
        del os.environ["LOCAL_RANK"]  # finalize() restores the environment
        idist.set_local_rank(0)
        assert idist.get_local_rank() == 0
    finally:
        idist.finalize()


def test_parallel_logs_like_ignite(capsys: pytest.CaptureFixture[str]) -> None:
    from cadence.utils import setup_logger

    setup_logger("cadence.distributed.launcher.Parallel", reset=True)  # print to this test's captured stderr
    with idist.Parallel(backend="gloo") as parallel:
        parallel.run(lambda local_rank: None)
    err = capsys.readouterr().err
    assert "Initialized processing group with backend: 'gloo'" in err
    assert "End of run" in err and "Finalized processing group" in err
    logging.getLogger("cadence.distributed.launcher.Parallel").handlers.clear()
