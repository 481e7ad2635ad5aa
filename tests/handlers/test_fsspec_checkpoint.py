"""Checkpoints on an fsspec file system (here ``memory://``; S3 in test_s3_checkpoint.py): published by a manifest
written last, listed, kept, adopted, resumed and checked as on disk."""

from __future__ import annotations

import uuid
import warnings

import fsspec
import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.exceptions import CorruptCheckpointError
from cadence.handlers import Checkpoint, FsspecSaver, ShardedFsspecSaver
from cadence.handlers.remote import MANIFEST_SUFFIX


@pytest.fixture
def url() -> str:
    return f"memory://cadence-tests/{uuid.uuid4().hex}"


def _names(url: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return sorted(str(p).rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)) if fs.exists(root) else []


def _train(save_handler: object, steps: int, every: int = 2, **kwargs: object) -> tuple[nn.Module, Engine[None]]:
    torch.manual_seed(0)
    model = nn.Linear(4, 4)
    trainer: Engine[None] = Engine(lambda engine, batch: model.weight.data.add_(1.0))
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, save_handler, **kwargs)  # type: ignore[arg-type]
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=every), checkpoint)
    trainer.run(range(steps), max_epochs=1)
    return model, trainer


def test_a_url_saves_keeps_n_and_resumes_the_newest(url: str) -> None:
    model, _ = _train(url, steps=8, n_saved=2)
    assert _names(url) == [
        "checkpoint_6.pt",
        "checkpoint_6.pt" + MANIFEST_SUFFIX,
        "checkpoint_8.pt",
        "checkpoint_8.pt" + MANIFEST_SUFFIX,
    ]
    again, trainer = nn.Linear(4, 4), Engine(lambda engine, batch: None)
    assert Checkpoint.resume({"model": again, "trainer": trainer}, url) == f"{url}/checkpoint_8.pt"
    assert trainer.state.iteration == 8
    assert torch.equal(again.weight, model.weight)


def test_a_checkpoint_without_its_manifest_is_not_complete(url: str) -> None:
    _train(url, steps=4, n_saved=None)
    fs, root = fsspec.core.url_to_fs(url)
    fs.rm(f"{root}/checkpoint_4.pt{MANIFEST_SUFFIX}")  # as a save killed before its manifest leaves it
    trainer: Engine[None] = Engine(lambda engine, batch: None)
    assert Checkpoint.resume({"model": nn.Linear(4, 4), "trainer": trainer}, url) == f"{url}/checkpoint_2.pt"
    assert FsspecSaver.reader(url).listing().leftovers == ["checkpoint_4.pt"]
    with pytest.raises(ValueError, match="not complete: it has no manifest"):
        Checkpoint.load_objects({"model": nn.Linear(4, 4)}, f"{url}/checkpoint_4.pt")
    # the next run adopts the complete one, removes the leftover and keeps n_saved across the restart
    _train(FsspecSaver(url, require_empty=False), steps=6, every=3, n_saved=2)
    assert [n for n in _names(url) if not n.endswith(MANIFEST_SUFFIX)] == ["checkpoint_3.pt", "checkpoint_6.pt"]


def test_a_url_refuses_another_runs_checkpoints_unless_told(url: str) -> None:
    _train(url, steps=2)
    with pytest.raises(ValueError, match="already present"):
        FsspecSaver(url)
    FsspecSaver(url, require_empty=False)


def test_a_corrupted_object_is_skipped_by_resume_and_refused_by_load(url: str) -> None:
    _train(url, steps=4, n_saved=None)
    fs, root = fsspec.core.url_to_fs(url)
    data = bytearray(fs.cat(f"{root}/checkpoint_4.pt"))
    for index in range(len(data) // 2, len(data) // 2 + 64):
        data[index] ^= 0xFF
    fs.pipe(f"{root}/checkpoint_4.pt", bytes(data))
    trainer: Engine[None] = Engine(lambda engine, batch: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = Checkpoint.resume({"model": nn.Linear(4, 4), "trainer": trainer}, url)
    assert found == f"{url}/checkpoint_2.pt"
    assert any("checkpoint_4.pt" in str(w.message) for w in caught)
    with pytest.raises(CorruptCheckpointError):
        Checkpoint.load_objects({"model": nn.Linear(4, 4)}, f"{url}/checkpoint_4.pt")


def test_async_saves_to_a_url(url: str) -> None:
    model, _ = _train(url, steps=6, n_saved=1, async_save=True)
    again = nn.Linear(4, 4)
    Checkpoint.load_objects({"model": again}, f"{url}/checkpoint_6.pt")
    assert torch.equal(again.weight, model.weight)
    assert [n for n in _names(url) if not n.endswith(MANIFEST_SUFFIX)] == ["checkpoint_6.pt"]


def test_sharded_checkpoints_on_a_url(url: str) -> None:
    model, _ = _train(ShardedFsspecSaver(url), steps=6, n_saved=2)
    assert [n for n in _names(url) if not n.endswith(MANIFEST_SUFFIX)] == ["checkpoint_4.dcp", "checkpoint_6.dcp"]
    again, trainer = nn.Linear(4, 4), Engine(lambda engine, batch: None)
    assert Checkpoint.resume({"model": again, "trainer": trainer}, url) == f"{url}/checkpoint_6.dcp"
    assert trainer.state.iteration == 6
    assert torch.equal(again.weight, model.weight)


def test_a_bad_url_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match="url must be a string"):
        FsspecSaver(3)  # type: ignore[arg-type]
    with pytest.raises((ImportError, ValueError), match="nosuchscheme"):
        Checkpoint({"model": nn.Linear(1, 1)}, "nosuchscheme://bucket/run")
