import errno
import os
from pathlib import Path
from typing import IO, Any

import pytest
import torch
from torch import nn

import cadence.handlers._files as _files
import cadence.handlers.savers as savers
from cadence import Engine, Events
from cadence.handlers.checkpoint import Checkpoint
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


def _fail_in(folder: Path, function: str, code: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``os.<function>`` fail with ``code`` for files in ``folder``, as a full or read-only disk would."""
    real = getattr(os, function)

    def failing(target: Any, *args: Any, **kwargs: Any) -> Any:
        where = os.readlink(f"/proc/self/fd/{target}") if isinstance(target, int) else os.fspath(target)
        if where.startswith(str(folder)):
            raise OSError(code, os.strerror(code))
        return real(target, *args, **kwargs)

    monkeypatch.setattr(os, function, failing)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to tell which file a write goes to")
@pytest.mark.parametrize(
    ("function", "code", "words"),
    [
        ("write", errno.ENOSPC, "no space left on device"),
        ("open", errno.EROFS, "read-only file system"),
        ("open", errno.EACCES, "permission denied"),
    ],
)
def test_a_failed_save_names_the_path_and_the_cause_and_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str, code: int, words: str
) -> None:
    model = nn.Linear(1000, 300)  # over the 1 MiB write buffer: the disk fills up inside torch.save
    trainer: Engine[None] = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, DiskSaver(tmp_path), n_saved=1)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    disk_fails = lambda: _fail_in(tmp_path, function, code, monkeypatch)  # noqa: E731
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=3), disk_fails)
    with pytest.raises(OSError, match=words) as info:
        trainer.run(range(4), max_epochs=1)
    assert info.value.errno == code
    assert str(tmp_path / "checkpoint_4.pt") in str(info.value)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["checkpoint_2.pt"]
    assert Checkpoint.read_checkpoint(tmp_path / "checkpoint_2.pt")["trainer"]["iteration"] == 2
    assert [item.filename for item in checkpoint.saved] == ["checkpoint_2.pt"]


def test_a_failed_save_in_place_names_the_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saver = DiskSaver(tmp_path, atomic=False)
    _fail_in(tmp_path, "write", errno.ENOSPC, monkeypatch)
    with pytest.raises(OSError, match=r"m\.pt.*no space left on device"):
        saver({"w": torch.ones(1000)}, "m.pt")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to tell which file a write goes to")
def test_a_write_error_reported_as_something_else_still_names_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write_like_torch(file: IO[bytes]) -> None:
        try:
            file.write(b"x" * (2 << 20))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1280 vs 1174") from None

    _fail_in(tmp_path, "write", errno.ENOSPC, monkeypatch)
    with pytest.raises(OSError, match=r"big\.bin.*no space left on device"):
        atomic_write(tmp_path / "big.bin", write_like_torch)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


class _Starts:
    """Records the calls a ``sync_file_range`` would get."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int, int]] = []

    def __call__(self, fd: int, offset: int, count: int, flags: int) -> int:
        self.calls.append((fd, offset, count, flags))
        return 0


def test_a_save_has_the_disk_start_writing_as_the_file_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    starts = _Starts()
    monkeypatch.setattr(_files, "_sync_file_range", lambda: starts)
    monkeypatch.setattr(_files.Writeback, "default_step", 1 << 20)
    state = {f"w{i}": torch.full((1 << 18,), float(i)) for i in range(4)}  # four records of 1 MiB
    DiskSaver(tmp_path)(state, "m_1.pt")
    assert len(starts.calls) >= 3
    assert {(offset, count, flags) for _, offset, count, flags in starts.calls} == {(0, 0, 2)}  # all, don't wait
    loaded = torch.load(tmp_path / "m_1.pt")
    assert all(torch.equal(loaded[name], tensor) for name, tensor in state.items())


def test_writeback_is_started_every_step_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    starts = _Starts()
    monkeypatch.setattr(_files, "_sync_file_range", lambda: starts)
    writeback = _files.Writeback(7, step=10)
    for count in (4, 4, 4, 9, 1, 25):
        writeback.wrote(count)
    assert [fd for fd, *_ in starts.calls] == [7, 7, 7]  # at 12, 22 and 47 bytes


@pytest.mark.skipif(_files._sync_file_range() is None, reason="sync_file_range is Linux's")
def test_the_real_writeback_leaves_the_file_whole(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "data.bin", os.O_WRONLY | os.O_CREAT)
    writeback = _files.Writeback(fd, step=1)
    for _ in range(3):
        writeback.wrote(os.write(fd, b"cadence"))
    os.close(fd)
    assert (tmp_path / "data.bin").read_bytes() == b"cadence" * 3
