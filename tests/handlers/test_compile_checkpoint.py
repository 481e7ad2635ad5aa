"""Checkpoints of compiled models (``torch.compile``): saved as the model they compiled, so that they load into the
model compiled or not; a checkpoint with ``_orig_mod.`` keys (Ignite's, older cadence's) loads too; exact resume
holds across restarts that compile again, also for an FSDP2-sharded model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import distributed as idist
from cadence.engine import Engine, Events, create_supervised_trainer
from cadence.exceptions import CheckpointMismatchError
from cadence.handlers import Checkpoint, DiskSaver, EMAHandler, ModelCheckpoint, ShardedDiskSaver
from cadence.handlers.sharded import read_metadata
from tests.distributed import _fsdp_jobs as fsdp_jobs
from tests.resume.test_kill_resume import MID_EPOCH, assert_identical, final_state, run_script


def net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


KEYS = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
KEYS += ["2.weight", "2.bias"]


class FakeDDP(nn.parallel.DistributedDataParallel):
    """A DistributedDataParallel without a process group: only its type matters here."""

    def __init__(self, module: nn.Module) -> None:
        nn.Module.__init__(self)
        self.module = module


def compiled(module: nn.Module) -> nn.Module:
    wrapper: nn.Module = torch.compile(module)  # type: ignore[assignment]  # an OptimizedModule
    return wrapper


WRAPPERS: dict[str, Callable[[nn.Module], nn.Module]] = {
    "compiled": compiled,
    "compiled-ddp": lambda model: compiled(FakeDDP(model)),
    "ddp-of-compiled": lambda model: FakeDDP(compiled(model)),
    "compiled-data-parallel": lambda model: compiled(nn.DataParallel(model)),
    "data-parallel-of-compiled": lambda model: nn.DataParallel(compiled(model)),
}


def assert_same_weights(got: nn.Module, expected: nn.Module) -> None:
    expected_state = expected.state_dict()
    assert list(got.state_dict()) == list(expected_state)
    for key, value in got.state_dict().items():
        assert torch.equal(value, expected_state[key]), key


def save_once(to_save: dict[str, Any], folder: Path | DiskSaver | ShardedDiskSaver) -> Path:
    checkpoint = Checkpoint(to_save, folder)
    checkpoint(Engine(lambda engine, batch: None))
    assert checkpoint.last_checkpoint is not None
    return Path(checkpoint.last_checkpoint)


@pytest.mark.parametrize("wrap", list(WRAPPERS.values()), ids=list(WRAPPERS))
def test_a_wrapped_models_checkpoint_holds_the_models_own_keys_and_loads_both_ways(
    tmp_path: Path, wrap: Callable[[nn.Module], nn.Module]
) -> None:
    model = net(seed=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_once({"model": wrap(model), "optimizer": optimizer}, tmp_path / "wrapped")
    assert list(torch.load(path, weights_only=True)["model"]) == KEYS

    plain = net()
    Checkpoint.load_objects({"model": plain}, path)
    assert_same_weights(plain, model)

    into_wrapped = net()
    Checkpoint.load_objects({"model": wrap(into_wrapped)}, save_once({"model": model}, tmp_path / "plain"))
    assert_same_weights(into_wrapped, model)


def ignite_checkpoint(to_save: dict[str, Any], folder: Path) -> Path:
    """A checkpoint written by Ignite's own Checkpoint (which keeps torch.compile's ``_orig_mod.`` prefix)."""
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ignite_engine = pytest.importorskip("ignite.engine")
    if ignite_handlers.Checkpoint is Checkpoint:
        pytest.skip("the ignite package is served by cadence in this session")
    checkpoint = ignite_handlers.Checkpoint(to_save, ignite_handlers.DiskSaver(str(folder), require_empty=False))
    checkpoint(ignite_engine.Engine(lambda engine, batch: None))
    return folder / str(checkpoint.last_checkpoint)


@pytest.mark.parametrize("with_optimizer", [False, True], ids=["model-alone", "model-and-optimizer"])
@pytest.mark.parametrize("into", ["plain", "compiled"])
def test_a_checkpoint_ignite_wrote_of_a_compiled_model_loads_into_plain_and_compiled_models(
    tmp_path: Path, with_optimizer: bool, into: str
) -> None:
    model = net(seed=1)
    to_save: dict[str, Any] = {"model": compiled(model)}
    if with_optimizer:
        to_save["optimizer"] = torch.optim.SGD(model.parameters(), lr=0.1)
    path = ignite_checkpoint(to_save, tmp_path)
    saved = torch.load(path, weights_only=True)
    assert list(saved["model"] if with_optimizer else saved) == [f"_orig_mod.{key}" for key in KEYS]

    target = net()
    Checkpoint.load_objects({"model": target if into == "plain" else compiled(target)}, path)
    assert_same_weights(target, model)


def test_an_old_checkpoint_with_prefixed_keys_resumes_a_run_into_a_compiled_model(tmp_path: Path) -> None:
    model = net(seed=1)
    states = {"model": compiled(model).state_dict(), "trainer": {"epoch_length": 2, "iteration": 3, "max_epochs": 2}}
    torch.save(states, tmp_path / "checkpoint_3.pt")  # as an older cadence wrote it

    target, trainer = net(), Engine(lambda engine, batch: None)
    assert Checkpoint.resume({"model": compiled(target), "trainer": trainer}, tmp_path) == tmp_path / "checkpoint_3.pt"
    assert_same_weights(target, model)
    assert trainer.state.iteration == 3


def test_the_prefix_is_kept_when_only_some_keys_have_it_and_nothing_is_changed() -> None:
    state = {f"_orig_mod.{key}" if key.startswith("0.") else key: value for key, value in net(1).state_dict().items()}
    target = net()
    before = {key: value.clone() for key, value in target.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys \['_orig_mod.0.bias', '_orig_mod.0.weight'\]"):
        Checkpoint.load_objects({"model": target}, {"model": state})
    assert all(torch.equal(value, before[key]) for key, value in target.state_dict().items())


def test_a_model_whose_own_keys_start_with_the_prefix_loads_its_checkpoint_as_it_is(tmp_path: Path) -> None:
    class Holder(nn.Module):
        def __init__(self, seed: int) -> None:
            super().__init__()
            self._orig_mod = net(seed)

    source, target = Holder(1), Holder(0)
    path = save_once({"model": source}, tmp_path)
    assert list(torch.load(path, weights_only=True)) == [f"_orig_mod.{key}" for key in KEYS]
    Checkpoint.load_objects({"model": target}, path)
    assert_same_weights(target, source)


def test_ema_of_a_compiled_model_averages_the_model_it_compiled_and_loads_a_prefixed_state() -> None:
    model = nn.Linear(1, 1, bias=False)
    nn.init.ones_(model.weight)
    ema = EMAHandler(compiled(model), momentum=0.5)
    assert ema.model is model and type(ema.ema_model) is nn.Linear
    assert type(EMAHandler(compiled(nn.DataParallel(model))).ema_model) is nn.DataParallel  # as Ignite's

    def step(engine: Engine[Any], batch: Any) -> None:
        with torch.no_grad():
            model.weight.add_(1.0)

    trainer = Engine(step)
    ema.attach(trainer)
    trainer.run(range(2))
    assert model.weight.item() == 3.0 and ema.ema_model.get_parameter("weight").item() == 2.25
    assert list(ema.state_dict()["ema_model"]) == ["weight"]

    restored = EMAHandler(compiled(nn.Linear(1, 1, bias=False)), momentum=0.5)
    prefixed = {"_orig_mod.weight": torch.full((1, 1), 2.25)}  # what Ignite saves for a compiled model's EMA
    restored.load_state_dict({"ema_model": prefixed, "momentum_scheduler": None})
    assert restored.ema_model.get_parameter("weight").item() == 2.25


def test_model_checkpoint_of_a_compiled_model_writes_the_models_own_keys(tmp_path: Path) -> None:
    model = net(seed=1)
    handler = ModelCheckpoint(tmp_path, "best", n_saved=1)
    trainer = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.COMPLETED, handler, {"model": compiled(model)})
    trainer.run([0])
    (path,) = tmp_path.iterdir()
    assert list(torch.load(path, weights_only=True)) == KEYS
    target = net()
    Checkpoint.load_objects({"model": target}, path)
    assert_same_weights(target, model)


def test_a_sharded_checkpoint_of_a_compiled_model_loads_into_a_plain_one_and_back(tmp_path: Path) -> None:
    model = net(seed=1)
    path = save_once({"model": compiled(model)}, ShardedDiskSaver(tmp_path / "compiled"))
    assert sorted(read_metadata(path).state_dict_metadata) == sorted(f"model.{key}" for key in KEYS)
    plain = net()
    Checkpoint.load_objects({"model": plain}, path)
    assert_same_weights(plain, model)

    into_compiled = net()
    save_once({"model": model}, ShardedDiskSaver(tmp_path / "plain"))
    assert Checkpoint.resume({"model": compiled(into_compiled)}, tmp_path / "plain") == tmp_path / "plain/model_0.dcp"
    assert_same_weights(into_compiled, model)


def _train_compiled(folder: Path, *, crash_at: int | None = None, resume: bool = False) -> dict[str, torch.Tensor]:
    """Everything built afresh, the model compiled again: two epochs of 5 iterations with dropout and momentum,
    checkpointed every 3 iterations; ``crash_at`` raises (a crash) at that iteration."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trainer = create_supervised_trainer(compiled(model), optimizer, nn.MSELoss(), deterministic=True, seed=5)
    to_save = {"model": compiled(model), "optimizer": optimizer, "trainer": trainer}
    checkpoint = Checkpoint(to_save, DiskSaver(folder, require_empty=False), n_saved=1)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=3), checkpoint)
    if resume:
        assert Checkpoint.resume(to_save, folder) is not None
    if crash_at is not None:

        @trainer.on(Events.ITERATION_COMPLETED(once=crash_at))
        def crash(engine: Engine[Any]) -> None:
            raise RuntimeError("killed")

    data = [(torch.randn(4, 3, generator=torch.Generator().manual_seed(i)), torch.ones(4, 1)) for i in range(5)]
    trainer.run(data, max_epochs=2)
    return {key: value.clone() for key, value in model.state_dict().items()}


def test_a_compiled_run_crashed_and_resumed_compiled_afresh_ends_bit_identical(tmp_path: Path) -> None:
    expected = _train_compiled(tmp_path / "uninterrupted")
    with pytest.raises(RuntimeError, match="killed"):
        _train_compiled(tmp_path / "crashed", crash_at=8)  # the last checkpoint is at iteration 6
    resumed = _train_compiled(tmp_path / "crashed", resume=True)
    for key, value in expected.items():
        assert torch.equal(resumed[key], value), key


@pytest.mark.slow
def test_a_compiled_run_killed_and_resumed_in_a_new_process_that_compiles_again_is_bit_identical(
    tmp_path: Path,
) -> None:
    run_script(tmp_path / "eager")
    run_script(tmp_path / "reference", "--compile")
    run_script(tmp_path / "killed", "--compile", "--kill-at", str(MID_EPOCH), expect_killed=True)
    assert "resumed from" in run_script(tmp_path / "killed", "--compile", "--resume")
    assert_identical(final_state(tmp_path / "killed"), final_state(tmp_path / "reference"))
    eager: dict[str, Any] = final_state(tmp_path / "eager")["model"]
    reference: dict[str, Any] = final_state(tmp_path / "reference")["model"]
    assert any(not torch.equal(reference[key], value) for key, value in eager.items())  # compiled code ran


def two_ranks(folder: Path, stop_at: int | None = None, resume: bool = False) -> dict[str, Any]:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=120) as parallel:
        results: list[dict[str, Any]] = parallel.run(fsdp_jobs.train_compiled, str(folder), stop_at, resume)
    return results[0]


@pytest.mark.slow
def test_a_compiled_fsdp2_model_resumes_from_its_sharded_checkpoint_bit_identically(tmp_path: Path) -> None:
    expected = two_ranks(tmp_path / "uninterrupted")
    assert expected["graphs"] > 0, "inductor compiled nothing: the sharded model ran eagerly"
    stored = expected["stored"]  # the optimizer's state is keyed by parameter names, without the prefix too
    assert [key for key in stored if key.startswith("model.")] == [f"model.{key}" for key in sorted(expected["model"])]
    assert any(key.startswith("optimizer.state.body.weight.") for key in stored)
    assert not any("_orig_mod" in key for key in stored)
    two_ranks(tmp_path / "stopped", stop_at=3)
    resumed = two_ranks(tmp_path / "stopped", resume=True)
    assert resumed["iteration"] == fsdp_jobs.STEPS and resumed["graphs"] > 0
    for key, value in expected["model"].items():
        assert torch.equal(resumed["model"][key], value), key

    plain = fsdp_jobs.train_compiled(0, str(tmp_path / "stopped"), resume=True, shard=False)  # one process, eager
    for key, value in expected["model"].items():  # one process sums the batch in another order
        assert torch.allclose(plain["model"][key], value, rtol=1e-5, atol=1e-6), key
