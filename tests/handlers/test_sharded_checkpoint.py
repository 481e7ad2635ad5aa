"""ShardedDiskSaver in one process: DCP folders with Checkpoint's naming, retention, discovery and checks.

The 2-process cases (FSDP shards per rank, resharding to one process, DDP to FSDP) are in
tests/distributed/test_fsdp.py.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.handlers import Checkpoint, CosineAnnealingScheduler, ShardedDiskSaver
from cadence.handlers._loading import CheckpointMismatchError

STEPS = 12


def _batch(iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(iteration)
    return torch.randn(8, 5, generator=g), torch.randint(0, 3, (8,), generator=g)


def _run(folder: Path, *, stop_at: int | None = None, resume: bool = False, n_saved: int | None = 2) -> dict[str, Any]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(engine: Engine[Any], _: Any) -> float:
        x, y = _batch(engine.state.iteration)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer: Engine[Any] = Engine(step)
    scheduler = CosineAnnealingScheduler(optimizer, "lr", 0.01, 0.001, cycle_size=STEPS)
    trainer.add_event_handler(Events.ITERATION_STARTED, scheduler)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer, "scheduler": scheduler}
    checkpoint = Checkpoint(to_save, ShardedDiskSaver(folder, require_empty=False), n_saved=n_saved)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    if resume:
        assert Checkpoint.resume(to_save, folder) is not None
    if stop_at is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda engine: engine.terminate())
    trainer.run(range(4), max_epochs=STEPS // 4)
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "iteration": trainer.state.iteration,
        "lr": optimizer.param_groups[0]["lr"],
        "folders": sorted(p.name for p in folder.iterdir()),
    }


def test_a_run_stopped_and_resumed_from_sharded_checkpoints_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    expected = _run(tmp_path / "whole")
    stopped = _run(tmp_path / "cut", stop_at=7)  # checkpoints at 2, 4, 6; iteration 7 is lost
    assert stopped["folders"] == ["checkpoint_4.dcp", "checkpoint_6.dcp"]  # n_saved=2, no temporaries left
    assert (tmp_path / "cut" / "checkpoint_6.dcp" / ".metadata").is_file()
    resumed = _run(tmp_path / "cut", resume=True)
    assert resumed["iteration"] == expected["iteration"] == STEPS
    assert resumed["lr"] == expected["lr"]
    for name, tensor in expected["model"].items():
        assert torch.equal(resumed["model"][name], tensor), name
    for index, slot in expected["optimizer"]["state"].items():
        for key, value in slot.items():
            assert torch.equal(resumed["optimizer"]["state"][index][key], value), (index, key)
    # retention adopted the earlier run's folders: still two, the newest
    assert resumed["folders"] == ["checkpoint_10.dcp", "checkpoint_12.dcp"]


def test_resume_skips_incomplete_folders_and_one_missing_a_shard(tmp_path: Path) -> None:
    _run(tmp_path, stop_at=6, n_saved=None)
    (tmp_path / "checkpoint_6.dcp" / ".metadata").unlink()  # never published: not a checkpoint
    shard = next((tmp_path / "checkpoint_4.dcp").glob("*.distcp"))
    shard.unlink()  # a rank's file lost
    (tmp_path / ".checkpoint_8.dcp.0123456789ab.tmp").mkdir()  # an interrupted save
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    trainer: Engine[Any] = Engine(lambda e, b: None)
    with pytest.warns(UserWarning, match=r"checkpoint_4\.dcp.* is incomplete: the files \['__0_0\.distcp'\]"):
        found = Checkpoint.resume({"model": model, "trainer": trainer}, tmp_path)
    assert found is not None and found.name == "checkpoint_2.dcp"
    assert trainer.state.iteration == 2
    with pytest.raises(ValueError, match="is incomplete"):
        Checkpoint.load_objects({"model": model}, tmp_path / "checkpoint_4.dcp")


def test_a_mismatched_model_or_a_missing_entry_is_refused_before_anything_changes(tmp_path: Path) -> None:
    _run(tmp_path, stop_at=2)
    folder = tmp_path / "checkpoint_2.dcp"
    wider = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 3))
    trainer: Engine[Any] = Engine(lambda e, b: None)
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match=r"'0\.weight' of 'model' has shape \(16, 5\) in the checkpoint"):
        Checkpoint.load_objects({"trainer": trainer, "model": wider}, folder)
    assert all(torch.equal(wider.state_dict()[k], v) for k, v in before.items())
    assert trainer.state.iteration == 0
    with pytest.raises(CheckpointMismatchError, match=r"'ema' is not in the checkpoint, which holds \["):
        Checkpoint.load_objects({"ema": trainer}, folder)
    other = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3), nn.Linear(3, 3))
    with pytest.raises(CheckpointMismatchError, match=r"'model' misses 3\.bias, 3\.weight"):
        Checkpoint.load_objects({"model": other}, folder)
    Checkpoint.load_objects({"model": other}, folder, strict=False)  # what it has is loaded
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Checkpoint.load_objects({"model": other}, tmp_path / "nothing.dcp")


def test_a_model_alone_loads_from_a_full_training_checkpoint(tmp_path: Path) -> None:
    expected = _run(tmp_path, stop_at=4)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    Checkpoint.load_objects({"model": model}, tmp_path / "checkpoint_4.dcp")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in expected["model"].items())


def test_sharded_saver_bad_uses(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    Checkpoint({"model": model}, ShardedDiskSaver(tmp_path))(Engine(lambda e, b: None))
    with pytest.raises(ValueError, match=r"Checkpoints \['model_0\.dcp'\] are already present"):
        ShardedDiskSaver(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="exists but is not a folder"):
        ShardedDiskSaver(tmp_path / "file")


def test_asynchronous_sharded_saves_hold_the_state_of_their_step(tmp_path: Path) -> None:
    model = nn.Linear(64, 64)
    trainer: Engine[Any] = Engine(lambda e, b: None)
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, ShardedDiskSaver(tmp_path), async_save=True)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    checkpoint(trainer)
    with torch.no_grad():
        model.weight.mul_(2)  # while the folder is being written
    checkpoint.wait()
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_0.dcp"]
    loaded = nn.Linear(64, 64)
    Checkpoint.load_objects({"model": loaded}, tmp_path / "checkpoint_0.dcp")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in expected.items())


def test_saving_under_the_same_name_replaces_the_folder_whole(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    checkpoint = Checkpoint({"model": model}, ShardedDiskSaver(tmp_path), n_saved=None)
    trainer: Engine[Any] = Engine(lambda e, b: None)
    checkpoint(trainer)
    with torch.no_grad():
        model.weight.fill_(3.0)
    checkpoint(trainer)  # the same step: the same name
    loaded = nn.Linear(2, 1)
    Checkpoint.load_objects({"model": loaded}, tmp_path / "model_0.dcp")
    assert torch.equal(loaded.weight, model.weight)
    assert sorted(os.listdir(tmp_path)) == ["model_0.dcp"]
    shutil.rmtree(tmp_path / "model_0.dcp")


def test_a_mock_save_handler_is_not_taken_for_a_sharded_one() -> None:
    from unittest.mock import MagicMock

    saver = MagicMock()  # any attribute of a mock is truthy: "sharded" must be True itself
    model = nn.Linear(2, 1)
    Checkpoint({"model": model}, saver)(Engine(lambda e, b: None))
    (state, filename, _metadata), _ = saver.call_args
    assert filename == "model_0.pt" and set(state) == {"weight", "bias"}


def test_a_save_on_rank_the_run_does_not_have_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"save_on_rank=1, but this run has 1 process \(rank 0\)"):
        ShardedDiskSaver(tmp_path, save_on_rank=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("async_save", [False, True])
def test_a_single_process_sharded_save_and_load_warn_nothing(tmp_path: Path, async_save: bool) -> None:
    model = nn.Linear(64, 64)
    trainer: Engine[Any] = Engine(lambda e, b: None)
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, ShardedDiskSaver(tmp_path), async_save=async_save)
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for iteration in range(3):
            trainer.state.iteration = iteration
            checkpoint(trainer)
        checkpoint.wait()
        Checkpoint.load_objects({"model": nn.Linear(64, 64)}, tmp_path / "checkpoint_2.dcp")
    assert [str(w.message) for w in caught] == []
    assert warnings.filters == filters  # the warning is silenced only while cadence saves or loads


def test_dcp_still_warns_a_user_who_saves_with_it_directly(tmp_path: Path) -> None:
    from torch.distributed.checkpoint.filesystem import FileSystemWriter
    from torch.distributed.checkpoint.state_dict_saver import save

    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, ShardedDiskSaver(tmp_path / "cadence"), async_save=True)
    checkpoint(Engine(lambda e, b: None))
    checkpoint.wait()
    with pytest.warns(UserWarning, match="assuming the intent is to save in a single process"):
        save({"w": torch.ones(2)}, storage_writer=FileSystemWriter(tmp_path / "user"))


def test_sharded_files_are_summed_and_written_back_as_they_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cadence.handlers._files as files
    from cadence.handlers._integrity import SummingStream

    starts: list[int] = []

    def start(fd: int, offset: int, count: int, flags: int) -> int:
        starts.append(fd)
        return 0

    monkeypatch.setattr(files, "_sync_file_range", lambda: start)
    monkeypatch.setattr(files.Writeback, "default_step", 1 << 20)
    monkeypatch.setattr(SummingStream, "parallel_from", 1 << 16)  # the large tensors are summed on the helper
    model = nn.Sequential(*(nn.Linear(512, 512) for _ in range(4)))  # four weights of 1 MiB
    store = ShardedDiskSaver(tmp_path)
    store(store.gather({"model": model}), "model_1.dcp")
    assert len(starts) >= 4
    store.verify("model_1.dcp")  # the checksums recorded are those of the files
    loaded = nn.Sequential(*(nn.Linear(512, 512) for _ in range(4)))
    store.load({"model": loaded}, "model_1.dcp")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_a_published_folder_is_durable_its_files_and_names_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rename publishes a folder only as durably as what it points to: after a power cut, a folder renamed
    # before its own entries were fsynced may come back without its files. Every file and the temporary
    # folder itself are fsynced before the rename; the parent folder after it.
    calls: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def logged_fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def logged_replace(source: Any, target: Any) -> None:
        calls.append(("rename", f"{source} -> {target}"))
        replace(source, target)

    checkpoint = Checkpoint({"model": nn.Linear(2, 1)}, ShardedDiskSaver(tmp_path), n_saved=None)
    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    checkpoint(Engine(lambda e, b: None))
    monkeypatch.undo()
    renames = [i for i, (kind, _) in enumerate(calls) if kind == "rename" and "model_0.dcp" in calls[i][1]]
    assert len(renames) == 1, calls
    at = renames[0]
    temporary, final = calls[at][1].split(" -> ")
    synced_before = {path for kind, path in calls[:at] if kind == "fsync"}
    files = sorted(p.name for p in (tmp_path / "model_0.dcp").iterdir())
    written = {path.removesuffix(".tmp") for path in synced_before}  # DCP writes .metadata.tmp, then renames it
    assert files and all(str(Path(temporary) / name) in written for name in files), (files, calls)
    assert temporary in synced_before, calls  # the folder's own entries
    assert ("fsync", str(tmp_path)) in calls[at + 1 :], calls  # the rename itself
    assert final == str(tmp_path / "model_0.dcp")
