"""WandBLogger against the real ``wandb`` client in offline mode: the run's records file under tmp_path is read
back (its LevelDB-style log of protobuf records)."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from cadence import Engine, Events
from cadence.handlers.wandb_logger import OptimizerParamsHandler, OutputHandler, WandBLogger
from tests.loggers._training import make_training

wandb = pytest.importorskip("wandb", reason="the wandb client is not installed (pip install wandb)")


def _history(folder: Path) -> list[dict[str, Any]]:
    """The history rows of the one offline run under ``folder``."""
    from wandb.proto import wandb_internal_pb2

    (path,) = folder.glob("wandb/offline-run-*/run-*.wandb")
    raw, block, position = path.read_bytes(), 32768, 7  # a 7-byte file header, then 32 KiB blocks of records
    records: list[bytes] = []
    parts: list[bytes] = []
    while position + 7 <= len(raw):
        if block - position % block < 7:  # a block's tail too short for a record header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", raw[position : position + 7])
        chunk = raw[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 2):  # a whole record, or its first part
            parts = [chunk]
        elif kind in (3, 4):
            parts.append(chunk)
        if kind in (1, 4):
            records.append(b"".join(parts))
    rows = []
    for data in records:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") == "history":
            items = record.history.item  # a name with "/" comes as its parts
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items})
    return rows


def test_an_offline_run_records_each_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    trainer, _, optimizer, data = make_training(batches=3)
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    trainer.add_event_handler(Events.STARTED, lambda e: setattr(e.state, "note", "warm-up"))
    with WandBLogger(project="cadence-test", mode="offline", dir=str(tmp_path)) as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="training",
            output_transform=lambda loss: {"loss": loss}, state_attributes=["note"],
        )  # fmt: skip
        logger.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer, tag="generator")
        trainer.run(data, max_epochs=2)
        assert logger.run is wandb.run  # the client's attributes through the logger
    deadline = time.monotonic() + 60
    while True:  # wandb's service may still be writing the file when finish() returns
        rows = [row for row in _history(tmp_path) if "training/loss" in row]
        if len(rows) >= 6 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [row["_step"] for row in rows] == list(range(1, 7))
    assert [row["training/loss"] for row in rows] == pytest.approx(losses)
    assert {row["training/note"] for row in rows} == {"warm-up"}
    assert {row["generator/lr/group_0"] for row in rows} == {0.05}


def test_init_false_uses_the_run_already_started() -> None:
    logger = WandBLogger(init=False)
    assert logger.log is wandb.log


@pytest.mark.parametrize(
    "make",
    [
        lambda: OutputHandler("tag", metric_names="all", sync=True),
        lambda: OptimizerParamsHandler(torch.optim.SGD([torch.zeros(1)], lr=0.1), sync=False),
    ],
)
def test_sync_is_accepted_with_a_warning(make: Any) -> None:
    with pytest.warns(UserWarning, match="sync argument"):
        make()


def test_handlers_write_to_a_wandb_logger_only() -> None:
    with pytest.raises(RuntimeError, match="works only with WandBLogger"):
        OutputHandler("tag", metric_names="all")(Engine(lambda e, b: None), object(), Events.COMPLETED)
