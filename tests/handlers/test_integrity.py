"""A checkpoint whose content changed after it was written (a bit flip, a bad copy) is never loaded silently."""

from __future__ import annotations

import io
import os
import warnings
import zlib
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.exceptions import CorruptCheckpointError
from cadence.handlers import Checkpoint, DiskSaver, ShardedDiskSaver
from cadence.handlers._integrity import SummingStream


def _flip(path: Path, count: int = 64) -> None:
    """Invert ``count`` bytes in the middle of the file."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for index in range(middle, middle + count):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def _train(saver: DiskSaver, steps: int = 6, every: int = 2) -> tuple[nn.Module, dict[int, torch.Tensor]]:
    """Train a model whose weights change each step; return it and its weights at each checkpoint."""
    torch.manual_seed(0)
    model = nn.Linear(64, 64)
    trainer: Engine[None] = Engine(lambda engine, batch: model.weight.data.add_(0.5))
    weights: dict[int, torch.Tensor] = {}
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(every=every), lambda e: weights.update({e.state.iteration: model.weight.clone()})
    )
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(every=every), Checkpoint({"model": model, "trainer": trainer}, saver, n_saved=3)
    )
    trainer.run(range(steps), max_epochs=1)
    return model, weights


def _resume(folder: Path) -> tuple[Path | str | None, nn.Module, Engine[None], list[str]]:
    model, trainer = nn.Linear(64, 64), Engine(lambda engine, batch: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = Checkpoint.resume({"model": model, "trainer": trainer}, folder)
    return path, model, trainer, [str(w.message) for w in caught]


def test_resume_skips_a_corrupted_newest_file_and_names_it(tmp_path: Path) -> None:
    _, weights = _train(DiskSaver(tmp_path))
    _flip(tmp_path / "checkpoint_6.pt")
    path, model, trainer, messages = _resume(tmp_path)
    assert path == tmp_path / "checkpoint_4.pt"
    assert trainer.state.iteration == 4
    assert torch.equal(model.weight, weights[4])
    assert any("checkpoint_6.pt" in m and "corrupted" in m for m in messages), messages


def test_load_objects_refuses_a_corrupted_file_and_changes_nothing(tmp_path: Path) -> None:
    _train(DiskSaver(tmp_path))
    _flip(tmp_path / "checkpoint_6.pt")
    model = nn.Linear(64, 64)
    before = model.weight.clone()
    with pytest.raises(CorruptCheckpointError, match=r"checkpoint_6\.pt.*no longer matches the checksum"):
        Checkpoint.load_objects({"model": model}, tmp_path / "checkpoint_6.pt")
    with pytest.raises(CorruptCheckpointError):
        Checkpoint.read_checkpoint(tmp_path / "checkpoint_6.pt")
    assert torch.equal(model.weight, before)


def test_an_intact_file_still_loads_after_its_neighbour_is_damaged(tmp_path: Path) -> None:
    _, weights = _train(DiskSaver(tmp_path))
    _flip(tmp_path / "checkpoint_4.pt")
    model = nn.Linear(64, 64)
    Checkpoint.load_objects({"model": model}, tmp_path / "checkpoint_6.pt")
    assert torch.equal(model.weight, weights[6])


def test_every_checkpoint_corrupted_means_nothing_is_loaded(tmp_path: Path) -> None:
    _train(DiskSaver(tmp_path))
    for path in tmp_path.glob("*.pt"):
        _flip(path)
    path, _, trainer, messages = _resume(tmp_path)
    assert path is None
    assert trainer.state.iteration == 0
    assert len([m for m in messages if "corrupted" in m]) == 3


def test_a_file_written_without_checksums_still_loads(tmp_path: Path) -> None:
    torch.serialization.set_crc32_options(False)
    try:
        torch.save({"model": nn.Linear(2, 1).state_dict()}, tmp_path / "model_1.pt")
    finally:
        torch.serialization.set_crc32_options(True)
    Checkpoint.load_objects({"model": nn.Linear(2, 1)}, tmp_path / "model_1.pt")


def test_resume_skips_a_corrupted_sharded_checkpoint(tmp_path: Path) -> None:
    _, weights = _train(ShardedDiskSaver(tmp_path))
    (shard,) = (tmp_path / "checkpoint_6.dcp").glob("*.distcp")
    _flip(shard)
    path, model, _, messages = _resume(tmp_path)
    assert path == tmp_path / "checkpoint_4.dcp"
    assert torch.equal(model.weight, weights[4])
    assert any("checkpoint_6.dcp" in m and "corrupted" in m for m in messages), messages
    with pytest.raises(CorruptCheckpointError, match="no longer matches"):
        Checkpoint.load_objects({"model": nn.Linear(64, 64)}, tmp_path / "checkpoint_6.dcp")


def test_a_custom_filename_pattern_resumes_by_the_steps_in_the_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = nn.Linear(2, 1)
    trainer: Engine[None] = Engine(lambda engine, batch: model.weight.data.add_(1.0))
    pattern = "run-{global_step:05d}-{name}.{ext}"
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, tmp_path, n_saved=None, filename_pattern=pattern)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=3), checkpoint)
    trainer.run(range(12), max_epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "run-00012-checkpoint.pt"
    loads: list[str] = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: loads.append(str(f)) or real_load(f, *a, **k))
    again: Engine[None] = Engine(lambda engine, batch: None)
    found = Checkpoint.resume({"model": nn.Linear(2, 1), "trainer": again}, tmp_path, filename_pattern=pattern)
    assert found == tmp_path / "run-00012-checkpoint.pt"
    assert again.state.iteration == 12
    assert loads == [str(found)]  # the order came from the names: no other checkpoint was opened


def test_resume_refuses_a_filename_pattern_it_cannot_order_by(tmp_path: Path) -> None:
    _train(DiskSaver(tmp_path))
    to_load = {"model": nn.Linear(64, 64)}
    with pytest.raises(ValueError, match="not a valid pattern"):
        Checkpoint.resume(to_load, tmp_path, filename_pattern="{name}_{epoch}.{ext}")
    with pytest.raises(ValueError, match=r"needs a plain \{global_step\}"):
        Checkpoint.resume(to_load, tmp_path, filename_pattern="{name}_{score}.{ext}")


class _ShortWrites(io.RawIOBase):
    """A raw stream that takes at most ``limit`` bytes per write."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        taken = bytes(memoryview(data).cast("B")[: self.limit])
        self.data += taken
        return len(taken)


@pytest.mark.parametrize("limit", [1 << 30, 1000])
def test_a_summing_stream_sums_what_it_wrote_large_writes_on_its_helper(limit: int) -> None:
    stream = _ShortWrites(limit)
    chunks = [os.urandom(size) for size in (10, 5000, 3, 4096, 70000)]
    with SummingStream(stream) as summing:
        summing.parallel_from = 4096
        written = [summing.write(chunk) for chunk in chunks]
        assert summing.crc == zlib.crc32(bytes(stream.data))
    assert written == [min(len(chunk), limit) for chunk in chunks]
    assert summing._helper is None  # ended with the block
