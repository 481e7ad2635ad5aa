"""VisdomLogger against the real ``visdom`` client and a Visdom server that the tests start on 127.0.0.1 with a
free port (its static files are not downloaded: nothing leaves the machine), and in Visdom's offline mode."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.distributed.process_group import free_port as _free_port
from cadence.handlers.visdom_logger import (
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    VisdomLogger,
    WeightsScalarHandler,
)
from tests.loggers._training import make_training

pytest.importorskip("visdom", reason="the visdom client is not installed (pip install visdom)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = _free_port()
    command = "from visdom.server.run_server import main; main()"  # python -m visdom.server would download scripts
    args = ["-port", str(port), "--hostname", "127.0.0.1", "-bind_local", "-logging_level", "WARNING"]
    env_path = str(tmp_path_factory.mktemp("visdom"))
    process = subprocess.Popen(
        [sys.executable, "-c", command, *args, "-env_path", env_path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the Visdom server did not start")
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _line(logger: VisdomLogger, window: str) -> tuple[list[float], list[float]]:
    data = json.loads(logger.vis.get_window_data(window, env=logger.vis.env))["content"]["data"][0]
    return data["x"], data["y"]


@pytest.mark.slow
def test_each_name_is_a_line_on_the_server(server: int) -> None:
    trainer, model, optimizer, data = make_training(batches=3)
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    logger = VisdomLogger(server="http://127.0.0.1", port=server, env="cadence_test", use_incoming_socket=False)
    output = OutputHandler("training", output_transform=lambda loss: {"loss": loss})
    params = OptimizerParamsHandler(optimizer)
    weights = WeightsScalarHandler(model, whitelist=["0"])
    with logger:
        logger.attach(trainer, output, Events.ITERATION_COMPLETED)
        logger.attach(trainer, params, Events.EPOCH_COMPLETED)
        logger.attach(trainer, weights, Events.EPOCH_COMPLETED)
        logger.attach(trainer, GradsScalarHandler(model), Events.EPOCH_COMPLETED)
        trainer.run(data, max_epochs=2)
    x, y = _line(logger, output.windows["training/loss"]["win"])
    assert x == [1, 2, 3, 4, 5, 6]
    assert y == pytest.approx(losses)
    assert _line(logger, params.windows["lr/group_0"]["win"]) == ([1, 2], [0.05, 0.05])
    assert sorted(weights.windows) == ["weights_norm/0/bias", "weights_norm/0/weight"]
    norm = float(model[0].weight.norm())
    assert _line(logger, weights.windows["weights_norm/0/weight"]["win"])[1][-1] == pytest.approx(norm)


def test_offline_mode_writes_the_plots_to_a_file(tmp_path: Path) -> None:
    trainer, _, _, data = make_training(batches=2)
    log_file = tmp_path / "visdom.log"
    with VisdomLogger(offline=True, log_to_filename=str(log_file), num_workers=0) as logger:
        logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=float)
        trainer.run(data)
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    plots = [(endpoint, body) for endpoint, body in events if "data" in body]  # a new window, then appends
    assert [(endpoint, body["data"][0]["x"]) for endpoint, body in plots] == [("events", [1]), ("update", [2])]
    plots = [body for _, body in plots]
    assert plots[0]["opts"]["title"] == "training/output"


def test_an_unreachable_server_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="Failed to connect to Visdom server"):
        VisdomLogger(server="http://127.0.0.1", port=_free_port(), raise_exceptions=False, use_incoming_socket=False)


@pytest.mark.parametrize("num_workers", [-1, 1.5, True])
def test_num_workers_must_be_a_count(num_workers: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_workers"):
        VisdomLogger(offline=True, log_to_filename=str(tmp_path / "log"), num_workers=num_workers)


@pytest.mark.parametrize(
    "handler",
    [
        OutputHandler("tag", metric_names="all"),
        OptimizerParamsHandler(torch.optim.SGD([torch.zeros(1)], lr=0.1)),
        WeightsScalarHandler(torch.nn.Linear(1, 1)),
        GradsScalarHandler(torch.nn.Linear(1, 1)),
    ],
)
def test_handlers_write_to_a_visdom_logger_only(handler: Any) -> None:
    with pytest.raises(RuntimeError, match="works only with VisdomLogger"):
        handler(Engine(lambda e, b: None), object(), Events.COMPLETED)
