import os
from pathlib import Path
from typing import IO

import pytest
import torch

import cadence.handlers.savers as savers
from cadence.handlers.savers import DiskSaver, atomic_write


def test_atomic_write_replaces_whole_file_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write(target, lambda f: f.write(b"first"))

    def crash(file: IO[bytes]) -> None:
        file.write(b"sec")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(target, crash)
    assert target.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["data.bin"]


@pytest.mark.parametrize("atomic", [True, False])
def test_disk_saver_saves_and_removes(tmp_path: Path, atomic: bool) -> None:
    saver = DiskSaver(tmp_path, atomic=atomic)
    saver({"w": torch.arange(3)}, "m_1.pt", {"basename": "m"})
    assert torch.equal(torch.load(tmp_path / "m_1.pt")["w"], torch.arange(3))
    saver.remove("m_1.pt")
    saver.remove("m_1.pt")  # already gone: not an error
    assert os.listdir(tmp_path) == []


def test_disk_saver_require_empty_only_counts_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("x")
    DiskSaver(tmp_path)  # other files are fine
    (tmp_path / "old.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"Files \['old.pt'\] with extension '.pt' are already present"):
        DiskSaver(tmp_path)
    DiskSaver(tmp_path, require_empty=False)


def test_only_save_on_rank_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(savers, "get_rank", lambda: 1)
    saver = DiskSaver(tmp_path / "never_made")
    saver({"w": torch.ones(1)}, "m.pt")
    saver.remove("m.pt")
    assert not (tmp_path / "never_made").exists()
    writer = DiskSaver(tmp_path / "made", save_on_rank=1)
    writer({"w": torch.ones(1)}, "m.pt")
    assert os.listdir(tmp_path / "made") == ["m.pt"]


def test_bad_save_on_rank(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="save_on_rank"):
        DiskSaver(tmp_path, save_on_rank=-1)
