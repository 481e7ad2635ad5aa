import os
import time
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine.supervised import create_supervised_trainer
from cadence.handlers.checkpoint import (
    Checkpoint,
    CheckpointEvents,
    ModelCheckpoint,
    checkpoints_by_recency,
    find_latest_checkpoint,
    global_step_from_engine,
)
from cadence.handlers.savers import BaseSaveHandler, DiskSaver


def _data(batches: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 4, generator=generator), torch.randn(8, 1, generator=generator)) for _ in range(batches)]


def _setup(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, Engine[Any]]:
    torch.manual_seed(seed)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, create_supervised_trainer(model, optimizer, nn.MSELoss())


def _files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_saves_last_n_named_by_iteration_and_loads_back(tmp_path: Path) -> None:
    model, optimizer, trainer = _setup()
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    checkpoint = Checkpoint(to_save, tmp_path, n_saved=2)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    trainer.run(_data(), max_epochs=4)
    assert _files(tmp_path) == ["checkpoint_12.pt", "checkpoint_9.pt"]  # 3 iterations per epoch
    assert checkpoint.last_checkpoint == tmp_path / "checkpoint_12.pt"
    assert (tmp_path / "checkpoint_12.pt").stat().st_mode & 0o444 == 0o444 & ~_umask()  # as torch.save's files

    fresh_model, fresh_optimizer, fresh_trainer = _setup(seed=1)
    fresh = {"model": fresh_model, "optimizer": fresh_optimizer, "trainer": fresh_trainer}
    Checkpoint.load_objects(fresh, tmp_path / "checkpoint_12.pt")
    torch.testing.assert_close(fresh_model.state_dict(), model.state_dict())
    assert fresh_trainer.state.epoch == 4
    assert fresh_optimizer.state_dict()["state"][0]["momentum_buffer"].shape == (1, 4)


def test_iteration_event_names_files_by_iteration(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    checkpoint = Checkpoint({"model": model}, tmp_path, filename_prefix="run", n_saved=None)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    trainer.run(_data(), max_epochs=2)
    assert _files(tmp_path) == ["run_model_2.pt", "run_model_4.pt", "run_model_6.pt"]
    saved = Checkpoint.read_checkpoint(tmp_path / "run_model_6.pt")
    assert set(saved) == {"weight", "bias"}  # one object is saved as its bare state_dict
    fresh = nn.Linear(4, 1)
    Checkpoint.load_objects({"model": fresh}, tmp_path / "run_model_6.pt")
    torch.testing.assert_close(fresh.state_dict(), model.state_dict())


def test_best_n_retention_by_score(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    scores = iter([0.5, 0.9, 0.1, 0.7, 0.95, 0.2])
    checkpoint = Checkpoint(
        {"model": model},
        tmp_path,
        score_function=lambda engine: next(scores),
        score_name="acc",
        n_saved=2,
        global_step_transform=global_step_from_engine(trainer),
    )
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    trainer.run(_data(batches=1), max_epochs=6)
    assert _files(tmp_path) == ["model_2_acc=0.9000.pt", "model_5_acc=0.9500.pt"]
    assert [item.priority for item in checkpoint.saved] == [0.9, 0.95]
    assert checkpoint.last_checkpoint == tmp_path / "model_5_acc=0.9500.pt"


@pytest.mark.parametrize(("greater_or_equal", "expected"), [(False, ["model_1.pt"]), (True, ["model_2.pt"])])
def test_greater_or_equal_replaces_equal_scores(tmp_path: Path, greater_or_equal: bool, expected: list[str]) -> None:
    model, _, trainer = _setup()
    checkpoint = Checkpoint(
        {"model": model},
        tmp_path,
        score_function=lambda engine: 1,
        global_step_transform=lambda engine, event: engine.state.epoch,
        filename_pattern="{name}_{global_step}.{ext}",
        greater_or_equal=greater_or_equal,
    )
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    trainer.run(_data(batches=1), max_epochs=2)
    assert _files(tmp_path) == expected


def test_default_score_from_metric_name(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    values = iter([3.0, 1.0, 2.0])

    @trainer.on(Events.EPOCH_COMPLETED)
    def record(engine: Engine[Any]) -> None:
        engine.state.metrics["loss"] = next(values)

    score = Checkpoint.get_default_score_fn("loss", -1.0)
    checkpoint = Checkpoint({"model": model}, tmp_path, score_function=score, score_name="neg_loss", n_saved=1)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    trainer.run(_data(batches=1), max_epochs=3)
    assert _files(tmp_path) == ["model_neg_loss=-1.0000.pt"]
    with pytest.raises(KeyError, match=r"'acc' is not in engine\.state\.metrics"):
        Checkpoint.get_default_score_fn("acc")(trainer)


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, optimizer, trainer = _setup()
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer}, tmp_path, n_saved=1)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    trainer.run(_data(), max_epochs=1)
    assert _files(tmp_path) == ["checkpoint_3.pt"]
    weights_at_1 = {k: v.clone() for k, v in model.state_dict().items()}
    real_save = torch.save

    def save_half_then_crash(obj: Any, file: Any, **kwargs: Any) -> None:
        import io

        buffer = io.BytesIO()
        real_save(obj, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", save_half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.run(_data(), max_epochs=2)
    monkeypatch.undo()
    assert _files(tmp_path) == ["checkpoint_3.pt"]  # no temp file left, the old checkpoint kept
    assert [item.filename for item in checkpoint.saved] == ["checkpoint_3.pt"]
    restored = nn.Linear(4, 1)
    Checkpoint.load_objects({"model": restored}, tmp_path / "checkpoint_3.pt")
    torch.testing.assert_close(restored.state_dict(), weights_at_1)
    trainer.run(_data(), max_epochs=3)  # saving works again afterwards
    assert _files(tmp_path) == ["checkpoint_9.pt"]


def test_include_self_and_state_dict_continue_retention_across_restarts(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, tmp_path, n_saved=2, include_self=True)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    trainer.run(_data(batches=1), max_epochs=3)
    saved = Checkpoint.read_checkpoint(tmp_path / "checkpoint_3.pt")
    assert saved["checkpointer"] == {"_saved": [(2, "checkpoint_2.pt"), (3, "checkpoint_3.pt")]}

    new_model, _, new_trainer = _setup()
    restarted = Checkpoint(
        {"model": new_model, "trainer": new_trainer}, DiskSaver(tmp_path, require_empty=False), n_saved=2
    )
    Checkpoint.load_objects({"model": new_model, "trainer": new_trainer, "checkpointer": restarted}, saved)
    new_trainer.add_event_handler(Events.EPOCH_COMPLETED, restarted)
    new_trainer.run(_data(batches=1), max_epochs=4)
    assert _files(tmp_path) == ["checkpoint_3.pt", "checkpoint_4.pt"]


def test_single_object_with_include_self_is_not_flattened(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    checkpoint = Checkpoint({"model": model}, tmp_path, include_self=True)
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    trainer.run(_data(batches=1))
    assert set(Checkpoint.read_checkpoint(tmp_path / "model_1.pt")) == {"model", "checkpointer"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="DataParallel moves the model to the GPU")
def test_wrapped_model_is_saved_as_inner_module(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    wrapped = nn.DataParallel(model)
    checkpoint = Checkpoint({"model": wrapped}, tmp_path)
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    trainer.run(_data(batches=1))
    assert set(Checkpoint.read_checkpoint(tmp_path / "model_1.pt")) == {"weight", "bias"}
    target = nn.DataParallel(nn.Linear(4, 1))
    Checkpoint.load_objects({"model": target}, tmp_path / "model_1.pt")
    torch.testing.assert_close(target.module.state_dict(), model.state_dict())


def test_custom_save_handlers_with_and_without_metadata() -> None:
    model, _, trainer = _setup()
    calls: list[tuple[str, Any]] = []
    two_args = Checkpoint({"model": model}, lambda checkpoint, filename: calls.append((filename, None)))
    three_args = Checkpoint(
        {"model": model}, lambda checkpoint, filename, metadata: calls.append((filename, metadata)), filename_prefix="p"
    )
    trainer.add_event_handler(Events.COMPLETED, two_args)
    trainer.add_event_handler(Events.COMPLETED, three_args)
    trainer.run(_data(batches=1))
    assert calls == [
        ("model_1.pt", None),
        ("p_model_1.pt", {"basename": "p_model", "score_name": None, "priority": 1}),
    ]
    assert two_args.last_checkpoint == "model_1.pt"


def test_model_checkpoint(tmp_path: Path) -> None:
    model, optimizer, trainer = _setup()
    handler = ModelCheckpoint(tmp_path / "new" / "folder", "best", n_saved=2, score_function=lambda e: -e.state.epoch)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, handler, {"model": model, "optimizer": optimizer})
    trainer.run(_data(batches=1), max_epochs=3)
    assert _files(tmp_path / "new" / "folder") == ["best_checkpoint_-1.pt", "best_checkpoint_-2.pt"]
    with pytest.raises(ValueError, match=r"Files \[.*\] with extension '.pt' are already present"):
        ModelCheckpoint(tmp_path / "new" / "folder")
    empty = ModelCheckpoint(tmp_path / "other")
    with pytest.raises(RuntimeError, match="No objects to checkpoint found"):
        empty(trainer)
    with pytest.raises(RuntimeError, match="No objects to checkpoint found"):
        empty(trainer, {})
    handler.save_handler = lambda checkpoint, filename: None
    with pytest.raises(RuntimeError, match="should be DiskSaver"):
        _ = handler.last_checkpoint


def test_find_latest_checkpoint_ignores_temp_files(tmp_path: Path) -> None:
    assert find_latest_checkpoint(tmp_path) is None
    model, _, trainer = _setup()
    trainer.add_event_handler(Events.ITERATION_COMPLETED, Checkpoint({"model": model}, tmp_path, n_saved=None))
    trainer.run(_data(batches=3))
    (tmp_path / ".model_4.pt.abc.tmp").write_bytes(b"partial")
    (tmp_path / "notes.txt").write_text("x")
    latest = find_latest_checkpoint(tmp_path)
    assert latest is not None and latest.name == "model_3.pt"
    assert [path.name for path in checkpoints_by_recency(tmp_path)] == ["model_3.pt", "model_2.pt", "model_1.pt"]
    assert find_latest_checkpoint(tmp_path, filename_prefix="other") is None
    with pytest.raises(ValueError, match="is not a folder"):
        find_latest_checkpoint(tmp_path / "notes.txt")


# ---------------------------------------------------------------------- bad input


def test_constructor_errors(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"'data\[0\]' \(int\) should have `state_dict` method"):
        Checkpoint({"model": model, "data": [1, 2]}, tmp_path)
    with pytest.raises(TypeError, match="Argument `to_save` should be a dictionary"):
        Checkpoint([model], tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_saved must be"):
        Checkpoint({"model": model}, tmp_path, n_saved=0)
    with pytest.raises(TypeError, match="Argument `save_handler` should be"):
        Checkpoint({"model": model}, 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="filename_pattern"):  # also a KeyError, as str.format raises
        Checkpoint({"model": model}, tmp_path, filename_pattern="{name}_{epoch}.pt")
    with pytest.raises(KeyError, match="epoch"):
        Checkpoint({"model": model}, tmp_path, filename_pattern="{name}_{epoch}.pt")
    with pytest.raises(ValueError, match="Cannot have key 'checkpointer'"):
        Checkpoint({"checkpointer": model}, tmp_path, include_self=True)
    with pytest.raises(TypeError, match="must be mutable"):
        Checkpoint(types.MappingProxyType({"model": model}), tmp_path, include_self=True)
    with pytest.raises(TypeError, match="score_function should be a function"):
        Checkpoint({"model": model}, tmp_path, score_function=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="global_step_transform should be a function"):
        Checkpoint({"model": model}, tmp_path, global_step_transform=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="filename_prefix must be a string"):
        Checkpoint({"model": model}, tmp_path, filename_prefix=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="with_score should be also True"):
        Checkpoint.setup_filename_pattern(with_score=False)
    with pytest.raises(ValueError, match="At least one of with_score and with_global_step"):
        Checkpoint.setup_filename_pattern(with_score=False, with_score_name=False, with_global_step=False)
    with pytest.raises(ValueError, match="score_sign should be 1 or -1"):
        Checkpoint.get_default_score_fn("acc", 2.0)
    with pytest.raises(AttributeError, match="should be of type `DiskSaver`"):
        Checkpoint({"model": model}, lambda checkpoint, filename: None).reload_objects({"model": model})
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        DiskSaver(tmp_path / "a_file")
    with pytest.raises(ValueError, match=r"Directory path .* is not found"):
        DiskSaver(tmp_path / "missing", create_dir=False)


def test_non_number_score_saves_nothing(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    checkpoint = Checkpoint({"model": model}, tmp_path, score_function=lambda e: "high")  # type: ignore[arg-type, return-value]
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    with pytest.raises(ValueError, match="Output of score_function should be a number, got 'high'"):
        trainer.run(_data(batches=1))
    assert _files(tmp_path) == [] and checkpoint.saved == []


def _saved_model(tmp_path: Path) -> Path:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
    torch.save({"model": model.state_dict(), "count": {"n": 1}}, tmp_path / "c.pt")
    return tmp_path / "c.pt"


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (nn.Sequential(nn.Linear(4, 3)), r"unexpected keys \['1.bias', '1.weight'\]"),
        (nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1), nn.Linear(1, 1)), "missing keys"),
        (nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 1)), r"'0.weight'\] has shape \(3, 4\), the model needs \(5, 4\)"),
    ],
)
def test_load_objects_strict_errors_change_nothing(tmp_path: Path, target: nn.Module, match: str) -> None:
    path = _saved_model(tmp_path)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        Checkpoint.load_objects({"model": target}, path)
    torch.testing.assert_close(target.state_dict(), before)


def test_load_objects_non_strict_loads_the_common_keys(tmp_path: Path) -> None:
    path = _saved_model(tmp_path)
    target = nn.Sequential(nn.Linear(4, 3))
    Checkpoint.load_objects({"model": target}, path, strict=False)
    torch.testing.assert_close(target[0].weight, Checkpoint.read_checkpoint(path)["model"]["0.weight"])
    with pytest.raises(ValueError, match="has shape"):  # shapes are checked even when not strict
        Checkpoint.load_objects({"model": nn.Sequential(nn.Linear(4, 2))}, path, strict=False)


def test_load_objects_missing_entry_and_bad_objects(tmp_path: Path) -> None:
    path = _saved_model(tmp_path)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"Key 'optimizer' from x is not found in y.*holds \['count', 'model'\]"):
        Checkpoint.load_objects({"model": model, "optimizer": torch.optim.SGD(model.parameters(), lr=1)}, path)
    with pytest.raises(TypeError, match="should have `load_state_dict` method"):
        Checkpoint.load_objects({"model": object()}, path)
    with pytest.raises(TypeError, match="should be a string or a dictionary"):
        Checkpoint.load_objects({"model": model}, 3)  # type: ignore[arg-type]


def test_load_objects_optimizer_group_mismatch(tmp_path: Path) -> None:
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD([model.weight], lr=0.1)
    other = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"groups of sizes \[1\], the optimizer has \[2\]"):
        Checkpoint.load_objects(
            {"optimizer": other, "model": model}, {"optimizer": optimizer.state_dict(), "model": model.state_dict()}
        )


def test_load_objects_rolls_back_when_a_later_object_refuses(tmp_path: Path) -> None:
    class Counter:
        def __init__(self, n: int) -> None:
            self.n = n

        def state_dict(self) -> dict[str, int]:
            return {"n": self.n}

        def load_state_dict(self, state: dict[str, int]) -> None:
            if state["n"] < 0:
                raise ValueError("n must be >= 0")
            self.n = state["n"]

    first, second = Counter(1), Counter(2)
    with pytest.raises(ValueError, match=r"Cannot load 'second'.*n must be >= 0"):
        Checkpoint.load_objects({"first": first, "second": second}, {"first": {"n": 10}, "second": {"n": -1}})
    assert (first.n, second.n) == (1, 2)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("truncated", "truncated or corrupted"),
        (b"hello, not a checkpoint", "not a checkpoint file"),
        ("list", "holds a list, not a mapping"),
        ("code", "weights_only=False"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, content: Any, match: str) -> None:
    path = tmp_path / "bad.pt"
    if content == "truncated":
        torch.save({"w": torch.ones(100)}, path)
        path.write_bytes(path.read_bytes()[:200])
    elif content == "list":
        torch.save([1, 2], path)
    elif content == "code":
        torch.save({"model": {"fn": Path("x")}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        Checkpoint.load_objects({"model": nn.Linear(1, 1)}, path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        Checkpoint.load_objects({"model": nn.Linear(1, 1)}, tmp_path / "missing.pt")


def test_load_state_dict_errors() -> None:
    checkpoint = Checkpoint({}, lambda checkpoint, filename: None)
    with pytest.raises(ValueError, match="must be"):
        checkpoint.load_state_dict({"saved": []})
    with pytest.raises(ValueError, match="pair"):
        checkpoint.load_state_dict({"_saved": [(1, 2, 3)]})


# ---------------------------------------------------------------------- two processes


def _save_from_two_ranks(local_rank: int, folder: str) -> dict[str, Any]:
    from cadence import distributed as idist

    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(nn.Linear(4, 1))
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    rank_folder = Path(folder) / f"rank{idist.get_rank()}"
    saver = DiskSaver(rank_folder, save_on_rank=1, wait_all_ranks=True)
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, saver, n_saved=None)
    if idist.get_rank() == 1:
        trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: time.sleep(0.3))  # a slow writer
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    on_disk: list[bool] = []  # every rank sees the file right after the save: the saver waits at a barrier
    written = Path(folder) / "rank1"
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED, lambda e: on_disk.append((written / f"checkpoint_{e.state.iteration}.pt").is_file())
    )
    trainer.run(_data(batches=2), max_epochs=2)
    return {
        "saved": [item.filename for item in checkpoint.saved],
        "last": str(checkpoint.last_checkpoint),
        "on_disk": on_disk,
    }


@pytest.mark.slow
def test_only_save_on_rank_writes_and_ddp_is_unwrapped(tmp_path: Path) -> None:
    from cadence import distributed as idist

    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(_save_from_two_ranks, str(tmp_path))
    assert [r["saved"] for r in results] == [["checkpoint_2.pt", "checkpoint_4.pt"]] * 2
    assert [r["on_disk"] for r in results] == [[True, True]] * 2
    assert not (tmp_path / "rank0").exists()
    assert _files(tmp_path / "rank1") == ["checkpoint_2.pt", "checkpoint_4.pt"]
    saved = Checkpoint.read_checkpoint(tmp_path / "rank1" / "checkpoint_4.pt")
    assert set(saved["model"]) == {"weight", "bias"}
    assert saved["trainer"]["iteration"] == 4


def _training_checkpoints(folder: Path, stop_at: int) -> tuple[nn.Module, Engine[Any]]:
    model = nn.Linear(2, 1)
    trainer = Engine(lambda e, b: model.weight.data.add_(1.0))
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, DiskSaver(folder, require_empty=False), n_saved=3)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=stop_at), lambda e: e.terminate())
    trainer.run(range(4), max_epochs=3)
    return model, trainer


def test_resume_loads_the_latest_checkpoint_and_continues(tmp_path: Path) -> None:
    assert Checkpoint.resume({"model": nn.Linear(2, 1)}, tmp_path / "nothing here") is None
    model, _ = _training_checkpoints(tmp_path, stop_at=7)
    fresh_model, fresh_trainer = nn.Linear(2, 1), Engine(lambda e, b: None)
    path = Checkpoint.resume({"model": fresh_model, "trainer": fresh_trainer}, tmp_path)
    assert path is not None and path.name == "checkpoint_6.pt"
    assert fresh_trainer.state.iteration == 6 and fresh_trainer.run(range(4)).iteration == 12
    assert torch.equal(fresh_model.weight, model.weight - 1.0)  # saved at 6, the model stepped once more


def test_resume_falls_back_past_a_half_written_latest_checkpoint(tmp_path: Path) -> None:
    _training_checkpoints(tmp_path, stop_at=7)
    latest = tmp_path / "checkpoint_6.pt"
    latest.write_bytes(latest.read_bytes()[:100])  # a crash cut it short
    trainer = Engine(lambda e, b: None)
    with pytest.warns(UserWarning, match=r"checkpoint_6\.pt"):
        path = Checkpoint.resume({"model": nn.Linear(2, 1), "trainer": trainer}, tmp_path)
    assert path is not None and path.name == "checkpoint_4.pt" and trainer.state.iteration == 4


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path: Path) -> None:
    _training_checkpoints(tmp_path, stop_at=7)
    other = nn.Linear(3, 1)
    before = other.weight.clone()
    with pytest.raises(ValueError, match="shape"):
        Checkpoint.resume({"model": other, "trainer": Engine(lambda e, b: None)}, tmp_path)
    assert torch.equal(other.weight, before)


def test_checkpoint_from_another_layout_names_the_version(tmp_path: Path) -> None:
    _training_checkpoints(tmp_path, stop_at=3)
    saved = torch.load(tmp_path / "checkpoint_2.pt", weights_only=True)
    assert saved["__cadence__"]["layout"] == 1
    saved["__cadence__"] = {"version": "0.0.1", "layout": 0}
    torch.save(saved, tmp_path / "checkpoint_2.pt")
    with pytest.raises(ValueError, match=r"cadence 0\.0\.1 with state layout 0"):
        Checkpoint.load_objects({"model": nn.Linear(2, 1)}, tmp_path / "checkpoint_2.pt")


# ---------------------------------------------------------------------- Ignite's behaviours


def test_nested_objects_are_saved_and_loaded_with_the_same_nesting(tmp_path: Path) -> None:
    encoder, head = nn.Linear(2, 3), nn.Linear(3, 1)
    checkpoint = Checkpoint({"models": [encoder, {"head": head}], "step": Engine(lambda e, b: None)}, tmp_path)
    trainer = Engine(lambda e, b: None)
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    trainer.run([0, 0])
    saved = Checkpoint.read_checkpoint(tmp_path / "checkpoint_2.pt")
    assert set(saved["models"][0]) == {"weight", "bias"} and set(saved["models"][1]["head"]) == {"weight", "bias"}
    fresh_encoder, fresh_head = nn.Linear(2, 3), nn.Linear(3, 1)
    Checkpoint.load_objects({"models": [fresh_encoder, {"head": fresh_head}]}, tmp_path / "checkpoint_2.pt")
    torch.testing.assert_close(fresh_head.state_dict(), head.state_dict())
    with pytest.raises(ValueError, match="sequence of 3 states"):
        Checkpoint.load_objects({"models": [fresh_encoder, fresh_head, fresh_head]}, saved)
    with pytest.raises(RuntimeError, match="has shape"):  # a mismatch is also a RuntimeError, as in torch
        Checkpoint.load_objects({"models": [fresh_head, {"head": fresh_head}]}, saved)


def test_saved_event_fires_after_each_save_and_exceptions_are_checkpointed() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    model = nn.Linear(1, 1)
    checkpoint = Checkpoint({"model": model}, lambda c, name, meta: calls.append((name, meta)), n_saved=None)

    def crash(engine: Engine[Any], batch: Any) -> None:
        if engine.state.iteration == 2:
            raise RuntimeError("boom")

    trainer = Engine(crash)
    trainer.register_events(*CheckpointEvents)
    saved_at: list[int] = []
    trainer.add_event_handler(Checkpoint.SAVED_CHECKPOINT, lambda e: saved_at.append(e.state.iteration))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    trainer.add_event_handler(Events.EXCEPTION_RAISED, checkpoint)  # gets (engine, exception)
    trainer.run([0, 0, 0])
    # as Ignite, EXCEPTION_RAISED handlers see the crashed iteration counted (a trainer's state saved there still
    # says 1, so a resume runs iteration 2 again: tests/resume/test_resume_cases.py)
    assert [name for name, _ in calls] == ["model_1.pt", "model_2.pt"]
    assert calls[1][1] == {"basename": "model", "score_name": None, "priority": 2}
    assert saved_at == [1, 2]


def test_reload_objects_and_custom_global_step(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    trainer = Engine(lambda e, b: None)
    evaluator = Engine(lambda e, b: None)
    checkpoint = Checkpoint(
        {"model": model},
        tmp_path,
        filename_prefix="best",
        score_name="acc",
        global_step_transform=global_step_from_engine(trainer, fallback_attr="iteration"),
    )
    evaluator.add_event_handler(Events.COMPLETED, checkpoint)
    evaluator.add_event_handler(Events.STARTED, lambda e: e.state.metrics.update(acc=0.5))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    trainer.run([0, 0, 0], max_epochs=2)
    assert _files(tmp_path) == ["best_model_1_acc=0.5000.pt"]  # the trainer's epoch; equal scores keep the first
    fresh = nn.Linear(2, 1)
    checkpoint.reload_objects({"model": fresh}, global_step=1, score="0.5000")
    torch.testing.assert_close(fresh.state_dict(), model.state_dict())
    with pytest.raises(TypeError, match="filename components"):
        checkpoint.reload_objects({"model": fresh}, step=1)
    assert global_step_from_engine(trainer, fallback_attr="iteration")(None, "unregistered") == 6


def test_custom_save_handler_gets_plain_states_and_a_reassigned_handler_is_used() -> None:
    model, optimizer = nn.Linear(1, 1), None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    received: list[Any] = []
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer}, lambda c, name: received.append(c))
    trainer = Engine(lambda e, b: None)
    checkpoint(trainer)
    assert set(received[0]) == {"model", "optimizer"}  # no cadence marker in what a custom handler gets
    checkpoint.save_handler = lambda c, name, metadata: received.append(metadata)
    trainer.state.iteration = 5
    checkpoint(trainer)
    assert received[1] == {"basename": "checkpoint", "score_name": None, "priority": 5}


def test_a_stand_in_optimizer_without_param_groups_is_saved_when_fsdp_is_imported(tmp_path: Path) -> None:
    import unittest.mock

    import torch.distributed.fsdp  # the FSDP-aware gathering runs once FSDP is imported

    stand_in = unittest.mock.Mock(spec=torch.optim.Optimizer)
    stand_in.state_dict.return_value = {"state": {}, "param_groups": []}
    checkpoint = Checkpoint({"model": nn.Linear(1, 1), "optimizer": stand_in}, tmp_path)
    checkpoint(Engine(lambda e, b: None))
    assert torch.load(tmp_path / "checkpoint_0.pt", weights_only=True)["optimizer"] == {"state": {}, "param_groups": []}


class _Recording(BaseSaveHandler):
    """An in-memory save handler of a user: Ignite's order applies to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        self.calls.append(("save", filename))

    def remove(self, filename: str) -> None:
        self.calls.append(("remove", filename))


class _OneFile(DiskSaver):
    """MONAI's ``key_metric_filename`` saver: every name goes to one file."""

    def __call__(self, checkpoint: Mapping[str, Any], filename: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__call__(checkpoint, "best.pt", metadata)

    def remove(self, filename: str) -> None:
        super().remove("best.pt")


def test_a_save_handler_of_a_user_gets_ignites_order_cadences_savers_save_first(tmp_path: Path) -> None:
    engine = Engine(lambda e, b: None)
    recording = _Recording()
    checkpoint = Checkpoint({"model": nn.Linear(1, 1)}, recording, n_saved=1)
    for iteration in (1, 2):
        engine.state.iteration = iteration
        checkpoint(engine)
    assert recording.calls == [("save", "model_1.pt"), ("remove", "model_1.pt"), ("save", "model_2.pt")]
    assert not _Recording.removes_after_saving and DiskSaver.removes_after_saving


def test_a_saver_that_writes_every_name_to_one_file_keeps_its_newest_checkpoint(tmp_path: Path) -> None:
    model = nn.Linear(1, 1)
    engine = Engine(lambda e, b: None)
    checkpoint = Checkpoint({"model": model}, _OneFile(tmp_path, require_empty=False), n_saved=1)
    for iteration in (1, 2, 3):
        engine.state.iteration = iteration
        with torch.no_grad():
            model.weight.fill_(iteration)
        checkpoint(engine)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best.pt"]
    assert torch.load(tmp_path / "best.pt")["weight"].item() == 3


def test_cadences_saver_writes_the_new_file_before_it_removes_the_displaced_one(tmp_path: Path) -> None:
    events: list[tuple[str, list[str]]] = []

    class Watched(DiskSaver):
        removes_after_saving = True

        def remove(self, filename: str) -> None:
            events.append(("remove", sorted(path.name for path in tmp_path.iterdir())))
            super().remove(filename)

    engine = Engine(lambda e, b: None)
    checkpoint = Checkpoint({"model": nn.Linear(1, 1)}, Watched(tmp_path, require_empty=False), n_saved=1)
    for iteration in (1, 2):
        engine.state.iteration = iteration
        checkpoint(engine)
    assert events == [("remove", ["model_1.pt", "model_2.pt"])]  # both on disk when the old one goes


def test_a_subclass_extension_names_the_files_of_a_disk_saver(tmp_path: Path) -> None:
    class PthCheckpoint(Checkpoint):
        ext = "pth"

    trainer: Engine[None] = Engine(lambda e, b: None)
    PthCheckpoint({"model": nn.Linear(1, 1)}, DiskSaver(tmp_path))(trainer)
    assert [p.name for p in tmp_path.iterdir()] == ["model_0.pth"]
