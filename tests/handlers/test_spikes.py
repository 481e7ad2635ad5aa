"""SpikeRollback: a NaN, infinite or spiking loss undoes its steps, skips its batches, and the run goes on."""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence import distributed as idist
from cadence.handlers import Checkpoint, DiskSaver
from cadence.handlers.spikes import (
    LossSpikeError,
    MeanStdSpike,
    MedianSpike,
    Rollback,
    RollbackReason,
    SnapshotPlace,
    SpikeRollback,
)

NAN_AT, SPIKE_AT, LENGTH = 5, 11, 16


def _batches(poison: dict[int, str] | None = None, length: int = LENGTH) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of a small regression; ``poison`` maps an iteration (from 1) to "nan", "inf" or "spike"."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for iteration in range(1, length + 1):
        x = torch.randn(16, 3, generator=generator)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(16, 1, generator=generator)
        kind = (poison or {}).get(iteration)
        if kind == "nan":
            x[0, 0] = float("nan")
        elif kind == "inf":
            y[0, 0] = float("inf")
        elif kind == "spike":
            y = y * 40.0
        batches.append((x, y))
    return batches


def _setup(optimizer_kind: str = "sgd") -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    if optimizer_kind == "adam":
        return model, torch.optim.Adam(model.parameters(), lr=0.05)
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)


def _trainer(model: nn.Module, optimizer: torch.optim.Optimizer, accumulate: int = 1) -> Engine[Any]:
    def step(engine: Engine[Any], batch: tuple[torch.Tensor, torch.Tensor]) -> float:
        iteration = engine.state.iteration
        if (iteration - 1) % accumulate == 0:
            optimizer.zero_grad()
        x, y = batch
        loss = nn.functional.mse_loss(model(x), y)
        (loss / accumulate).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped
        if iteration % accumulate == 0:
            optimizer.step()
        return loss.item()

    return Engine(step)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [tensor.detach().clone() for tensor in model.state_dict().values()]


def _assert_equal(got: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b), (a, b)


def _handler(model: nn.Module, optimizer: torch.optim.Optimizer, **options: Any) -> SpikeRollback:
    options = {"rule": MeanStdSpike(k=6.0), "window": 6, "warmup": 4, **options}
    return SpikeRollback({"model": model, "optimizer": optimizer}, **options)


@pytest.mark.parametrize("kind", ["nan", "inf"])
@pytest.mark.parametrize("optimizer_kind", ["sgd", "adam"])
def test_a_non_finite_loss_undoes_exactly_its_step(kind: str, optimizer_kind: str) -> None:
    model, optimizer = _setup(optimizer_kind)
    spikes = _handler(model, optimizer)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({NAN_AT: kind}))

    clean_model, clean_optimizer = _setup(optimizer_kind)
    clean = _batches()
    del clean[NAN_AT - 1]
    _trainer(clean_model, clean_optimizer).run(clean)

    _assert_equal(_weights(model), _weights(clean_model))  # as if the batch had never been there
    assert spikes.rollbacks == [Rollback(NAN_AT, RollbackReason.NON_FINITE, spikes.rollbacks[0].loss, NAN_AT - 1)]
    assert not math.isfinite(spikes.rollbacks[0].loss)
    assert trainer.state.metrics["rollbacks"] == 1


def test_a_spike_is_rolled_back_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    with caplog.at_level(logging.WARNING, logger="cadence.handlers.spikes"):
        trainer.run(_batches({SPIKE_AT: "spike"}))
    assert [(r.iteration, r.reason, r.skipped) for r in spikes.rollbacks] == [
        (SPIKE_AT, RollbackReason.SPIKE, range(SPIKE_AT, SPIKE_AT + 1))
    ]
    assert f"iteration {SPIKE_AT}" in caplog.text and "spike" in caplog.text
    clean_model, clean_optimizer = _setup()
    clean = _batches()
    del clean[SPIKE_AT - 1]
    _trainer(clean_model, clean_optimizer).run(clean)
    _assert_equal(_weights(model), _weights(clean_model))


def test_no_spike_is_judged_during_the_warmup_but_nan_is() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, warmup=6)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({3: "spike", 4: "nan"}))  # 3 good losses so far: too few for the rule
    assert [(r.iteration, r.reason) for r in spikes.rollbacks] == [(4, RollbackReason.NON_FINITE)]


def test_without_a_rule_only_non_finite_losses_count() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, rule=None)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({SPIKE_AT: "spike", NAN_AT: "nan"}))
    assert spikes.rollbacks[0].iteration == NAN_AT and SPIKE_AT not in [r.iteration for r in spikes.rollbacks]
    assert {r.reason for r in spikes.rollbacks} == {RollbackReason.NON_FINITE}  # the spike's step made it diverge


@pytest.mark.parametrize(
    ("rule", "spike"),
    [
        (MeanStdSpike(k=3.0), True),
        (MedianSpike(factor=3.0), True),
        (lambda loss, window: loss > 100 * max(window), True),
    ],
    ids=["mean-std", "median", "custom"],
)
def test_rules(rule: Any, spike: bool) -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, rule=rule)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({SPIKE_AT: "spike"}))
    assert [r.iteration for r in spikes.rollbacks] == ([SPIKE_AT] if spike else [])


def test_the_rules_arithmetic() -> None:
    flat = [1.0, 1.0, 1.0, 1.0]
    assert not MeanStdSpike(k=6.0)(1.05, flat) and MeanStdSpike(k=6.0)(1.2, flat)  # the margin on a flat window
    assert MeanStdSpike(k=1.0, margin=0.0)(2.01, [1.0, 2.0])  # mean 1.5, std 0.5
    assert not MeanStdSpike(k=1.0, margin=0.0)(1.99, [1.0, 2.0])
    assert MedianSpike(factor=2.0)(0.5, [-2.0, -1.0, -1.0]) and not MedianSpike(factor=2.0)(-0.5, [-2.0, -1.0, -1.0])


def test_snapshot_every_k_undoes_the_batches_since_the_snapshot() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, snapshot_every=4)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({NAN_AT + 2: "nan"}))  # iteration 7: the snapshot is that of iteration 4
    assert spikes.rollbacks[0].restored_to == 4 and spikes.rollbacks[0].skipped == range(5, 8)
    clean_model, clean_optimizer = _setup()
    clean = _batches()
    del clean[4:7]
    _trainer(clean_model, clean_optimizer).run(clean)
    _assert_equal(_weights(model), _weights(clean_model))


def test_a_nan_at_the_first_iteration_goes_back_to_the_start() -> None:
    model, optimizer = _setup()
    start = _weights(model)
    spikes = _handler(model, optimizer, patience=0)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    with pytest.raises(LossSpikeError, match="1 rollbacks in a row"):
        trainer.run(_batches({1: "nan"}))
    _assert_equal(_weights(model), start)  # the objects hold the last good state when it gives up
    assert spikes.rollbacks[0].restored_to == 0


def test_too_many_in_a_row_stop_the_run_with_a_clear_error() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, patience=2)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    with pytest.raises(LossSpikeError, match=r"3 rollbacks in a row \(patience=2\), the last at iteration 6"):
        trainer.run(_batches({4: "nan", 5: "nan", 6: "nan"}))
    assert all(torch.isfinite(tensor).all() for tensor in _weights(model))
    # two in a row, then a good step: the streak starts over
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, patience=2)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({4: "nan", 5: "nan", 7: "nan", 8: "nan"}))
    assert len(spikes.rollbacks) == 4


def test_gradient_accumulation_drops_the_windows_gradients() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer)
    trainer = _trainer(model, optimizer, accumulate=2)
    spikes.attach(trainer)
    trainer.run(_batches({6: "nan"}))  # window 5-6: batch 5's gradients are summed with the NaN ones
    clean_model, clean_optimizer = _setup()
    clean = _batches()
    del clean[4:6]
    _trainer(clean_model, clean_optimizer, accumulate=2).run(clean)
    _assert_equal(_weights(model), _weights(clean_model))


def test_optimizers_keep_the_current_learning_rate() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, snapshot_every=100)  # the snapshot of the start
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda: optimizer.param_groups[0].update(lr=0.01))
    trainer.run(_batches({6: "nan"}))
    assert optimizer.param_groups[0]["lr"] == 0.01 and spikes.rollbacks[0].restored_to == 0


@pytest.mark.parametrize("output", ["dict", "tensor"])
def test_the_loss_is_found_in_a_dict_or_a_tensor(output: str) -> None:
    model, optimizer = _setup()
    inner = _trainer(model, optimizer)._process_function

    def step(engine: Engine[Any], batch: Any) -> Any:
        loss = torch.tensor(inner(engine, batch))
        return {"loss": loss, "other": 1} if output == "dict" else loss

    trainer: Engine[Any] = Engine(step)
    spikes = _handler(model, optimizer, place=SnapshotPlace.CPU)
    spikes.attach(trainer, name="undone")
    trainer.run(_batches({NAN_AT: "nan"}))
    assert trainer.state.metrics["undone"] == 1


def test_a_fresh_run_forgets_the_previous_one() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({NAN_AT: "nan"}))
    trainer.run(_batches())
    assert spikes.rollbacks == [] and trainer.state.metrics["rollbacks"] == 0


def _run_stopped_and_resumed(
    stop_at: int | None, poison: dict[int, str], options: dict[str, Any]
) -> tuple[list[torch.Tensor], list[Rollback]]:
    """Train to the end, or stop after ``stop_at`` (its states copied as a checkpoint would) and resume afresh."""
    model, optimizer = _setup()
    trainer = _trainer(model, optimizer)
    spikes = _handler(model, optimizer, **options)
    spikes.attach(trainer)
    saved: dict[str, Any] = {}
    if stop_at is not None:

        @trainer.on(Events.ITERATION_COMPLETED(once=stop_at))
        def save_and_stop(engine: Engine[Any]) -> None:
            to_save: dict[str, Any] = {"model": model, "optimizer": optimizer, "trainer": engine, "spikes": spikes}
            saved.update(copy.deepcopy({name: obj.state_dict() for name, obj in to_save.items()}))
            engine.terminate()

    trainer.run(_batches(poison), max_epochs=2)
    if stop_at is None:
        return _weights(model), spikes.rollbacks
    model, optimizer = _setup()
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    trainer = _trainer(model, optimizer)
    spikes = _handler(model, optimizer, **options)
    spikes.attach(trainer)
    trainer.load_state_dict(saved["trainer"])
    spikes.load_state_dict(saved["spikes"])
    trainer.run(_batches(poison), max_epochs=2)
    return _weights(model), spikes.rollbacks


@pytest.mark.parametrize("snapshot_every", [1, 3])
def test_stopped_anywhere_and_resumed_ends_as_the_uninterrupted_run(snapshot_every: int) -> None:
    poison = {4: "nan", SPIKE_AT: "spike", 13: "inf"}
    options = {"snapshot_every": snapshot_every}
    expected, rollbacks = _run_stopped_and_resumed(None, poison, dict(options))
    assert {r.reason for r in rollbacks} == {RollbackReason.NON_FINITE, RollbackReason.SPIKE}
    for stop_at in range(1, 2 * LENGTH):
        got, resumed_rollbacks = _run_stopped_and_resumed(stop_at, poison, dict(options))
        _assert_equal(got, expected)
        assert [(r.iteration, r.restored_to) for r in resumed_rollbacks] == [
            (r.iteration, r.restored_to) for r in rollbacks
        ], stop_at


def test_the_state_holds_the_snapshot_only_when_the_objects_moved_on() -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer, snapshot_every=3)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    states: dict[int, dict[str, Any]] = {}
    keep = lambda engine: states.update({engine.state.iteration: spikes.state_dict()})  # noqa: E731
    trainer.add_event_handler(Events.ITERATION_COMPLETED, keep)
    trainer.run(_batches({5: "nan"}))
    assert states[3]["snapshot"] is None and states[6]["snapshot"] is None  # multiples of 3
    assert states[5]["snapshot"] is None  # just rolled back: the objects hold the snapshot
    assert states[4]["snapshot"] is not None and set(states[4]["snapshot"]) == {"model", "optimizer"}
    assert states[4]["snapshot_iteration"] == 3
    assert all(t.device.type == "cpu" for t in states[4]["snapshot"]["model"].values())


def _checkpointed(tmp_path: Path, source: str) -> tuple[SpikeRollback, Engine[Any], nn.Module]:
    model, optimizer = _setup()
    trainer = _trainer(model, optimizer)
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer}, DiskSaver(tmp_path, require_empty=False))
    spikes = _handler(model, optimizer, restore_from=checkpoint if source == "checkpoint" else tmp_path)
    spikes.attach(trainer)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=4), checkpoint)
    return spikes, trainer, model


@pytest.mark.parametrize("source", ["checkpoint", "folder"])
def test_restore_from_a_checkpoint(tmp_path: Path, source: str) -> None:
    spikes, trainer, model = _checkpointed(tmp_path, source)
    trainer.run(_batches({7: "nan"}))
    assert [(r.iteration, r.restored_to, r.skipped) for r in spikes.rollbacks] == [(7, 4, range(5, 8))]
    clean_model, clean_optimizer = _setup()
    clean = _batches()
    del clean[4:7]
    _trainer(clean_model, clean_optimizer).run(clean)
    _assert_equal(_weights(model), _weights(clean_model))
    assert spikes.state_dict()["snapshot"] is None


@pytest.mark.parametrize("source", ["checkpoint", "folder"])
def test_no_checkpoint_yet_is_a_clear_error(tmp_path: Path, source: str) -> None:
    _, trainer, _ = _checkpointed(tmp_path, source)
    with pytest.raises(LossSpikeError, match="no checkpoint to roll back to yet"):
        trainer.run(_batches({2: "nan"}))


def test_attached_after_its_checkpoint_is_refused(tmp_path: Path) -> None:
    model, optimizer = _setup()
    trainer = _trainer(model, optimizer)
    checkpoint = Checkpoint({"model": model}, DiskSaver(tmp_path, require_empty=False))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpoint)
    with pytest.raises(ValueError, match="attached before the Checkpoint"):
        SpikeRollback({"model": model}, restore_from=checkpoint).attach(trainer)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"to_restore": {}}, TypeError, "non-empty mapping"),
        ({"to_restore": [nn.Linear(1, 1)]}, TypeError, "non-empty mapping"),
        ({"to_restore": {1: nn.Linear(1, 1)}}, TypeError, "names must be strings"),
        ({"to_restore": {"trainer": Engine(lambda e, b: None)}}, ValueError, "the trainer is not rolled back"),
        ({"to_restore": {"x": object()}}, TypeError, "no state_dict"),
        ({"output_transform": 3}, TypeError, "output_transform must be callable"),
        ({"rule": "std"}, TypeError, "rule must be callable"),
        ({"window": 0}, ValueError, "window must be an integer above 0"),
        ({"window": 2.5}, ValueError, "window must be an integer"),
        ({"warmup": 0}, ValueError, "warmup must be an integer above 0"),
        ({"window": 4, "warmup": 5}, ValueError, "cannot exceed window"),
        ({"snapshot_every": 0}, ValueError, "snapshot_every"),
        ({"patience": -1}, ValueError, "patience must be an integer >= 0"),
        ({"patience": True}, ValueError, "patience"),
        ({"place": "cpu"}, TypeError, "SnapshotPlace"),
        ({"restore_from": 3}, TypeError, "restore_from must be"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    to_restore = kwargs.pop("to_restore", {"model": nn.Linear(1, 1)})
    with pytest.raises(error, match=match):
        SpikeRollback(to_restore, **kwargs)


@pytest.mark.parametrize(
    ("rule", "match"),
    [(lambda: MeanStdSpike(k=0), "k must be a number above 0"), (lambda: MeanStdSpike(margin=-1), "margin"),
     (lambda: MedianSpike(factor=1.0), "factor must be a number above 1"), (lambda: MeanStdSpike(k=math.inf), "k")],
)  # fmt: skip
def test_bad_rules(rule: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rule()


def test_bad_attach() -> None:
    spikes = SpikeRollback({"model": nn.Linear(1, 1)})
    with pytest.raises(TypeError, match="needs an Engine"):
        spikes.attach("trainer")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be"):
        spikes.attach(Engine(lambda e, b: None), name="")


@pytest.mark.parametrize(
    ("output", "match"),
    [("high", "number or a one-element tensor"), ({"lost": 1.0}, "without a 'loss' entry"),
     (torch.ones(2), "one-element tensor"), (True, "number")],
)  # fmt: skip
def test_an_output_without_a_loss_is_a_clear_error(output: Any, match: str) -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: output)
    SpikeRollback({"model": nn.Linear(1, 1)}).attach(trainer)
    with pytest.raises(TypeError, match=match):
        trainer.run([0])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.pop("window"), "expects the keys"),
        (lambda s: s.update(window="x"), "window must be a list"),
        (lambda s: s.update(window=[1.0] * 7), "window holds 7 losses"),
        (lambda s: s.update(window=["a"]), "window must hold numbers"),
        (lambda s: s.update(consecutive=-1), "consecutive must be an integer"),
        (lambda s: s.update(snapshot_iteration=1.5), "snapshot_iteration"),
        (lambda s: s.update(rollbacks=[{"iteration": 1}]), "each rollback has the keys"),
        (lambda s: s.update(rollbacks=[dict(iteration=1, reason="odd", loss=1.0, restored_to=0)]), "unknown rollback"),
        (lambda s: s.update(rollbacks=[dict(iteration=1, reason="spike", loss=1.0, restored_to="0")]), "restored_to"),
        (lambda s: s.update(snapshot={"model": {}}), "the snapshot holds"),
        (lambda s: s.update(snapshot=[1]), "the snapshot holds"),
    ],
)
def test_bad_states_are_refused_before_anything_changes(change: Any, match: str) -> None:
    model, optimizer = _setup()
    spikes = _handler(model, optimizer)
    trainer = _trainer(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({NAN_AT: "nan"}))
    before = spikes.state_dict()
    state = copy.deepcopy(before)
    change(state)
    with pytest.raises(ValueError, match=match):
        spikes.load_state_dict(state)
    assert spikes.state_dict()["window"] == before["window"] and len(spikes.rollbacks) == 1
    with pytest.raises(ValueError, match="expects the keys"):
        spikes.load_state_dict("state")  # type: ignore[arg-type]


def _on_two_ranks(local_rank: int) -> dict[str, Any]:
    rank = idist.get_rank()
    model, optimizer = _setup()
    trainer = _trainer(nn.parallel.DistributedDataParallel(model), optimizer)
    spikes = _handler(model, optimizer)
    spikes.attach(trainer)
    trainer.run(_batches({NAN_AT: "nan"} if rank == 1 else {SPIKE_AT: "spike"}))  # each rank its own trouble
    return {
        "rollbacks": [(r.iteration, r.reason.value) for r in spikes.rollbacks],
        "window": spikes.state_dict()["window"],
        "weights": [tensor.tolist() for tensor in _weights(model)],
    }


@pytest.mark.slow
def test_every_rank_rolls_back_together() -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(_on_two_ranks)
    assert results[0] == results[1]
    assert results[0]["rollbacks"] == [(NAN_AT, "non_finite"), (SPIKE_AT, "spike")]
    assert all(math.isfinite(value) for row in results[0]["weights"] for value in torch.tensor(row).flatten().tolist())
