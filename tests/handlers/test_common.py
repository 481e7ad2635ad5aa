import os
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from cadence import Engine, Events
from cadence.engine.supervised import create_supervised_evaluator, create_supervised_trainer
from cadence.handlers.checkpoint import Checkpoint
from cadence.handlers.common import (
    empty_cuda_cache,
    gen_save_best_models_by_val_score,
    save_best_model_by_val_score,
    setup_any_logging,
    setup_common_training_handlers,
)
from cadence.handlers.param_scheduler import PiecewiseLinear


def _data(batches: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 3, generator=generator), torch.randn(8, 1, generator=generator)) for _ in range(batches)]


def _setup(**trainer_kwargs: Any) -> tuple[nn.Module, torch.optim.Optimizer, Engine[Any]]:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, optimizer, create_supervised_trainer(model, optimizer, nn.MSELoss(), **trainer_kwargs)


def test_full_setup_on_a_training_run(tmp_path: Path) -> None:
    model, optimizer, trainer = _setup(output_transform=lambda x, y, y_pred, loss: {"loss": loss.item()})
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    lrs: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda: lrs.append(optimizer.param_groups[0]["lr"]))
    handlers = setup_common_training_handlers(
        trainer,
        to_save={"model": model, "optimizer": optimizer, "trainer": trainer},
        save_every_iters=3,
        output_path=tmp_path,
        lr_scheduler=scheduler,
        output_names=["loss"],
        log_every_iters=2,
        n_saved=2,
    )
    state = trainer.run(_data(), max_epochs=2)
    assert lrs == [0.1] * 4 + [0.05] * 4
    assert "loss" in state.metrics and isinstance(state.metrics["loss"], float)
    # Saved every 3 iterations only (not again at the end of the run), as Ignite does.
    assert sorted(os.listdir(tmp_path)) == ["training_checkpoint_3.pt", "training_checkpoint_6.pt"]
    assert handlers.checkpoint is not None and handlers.progress_bar is not None
    assert handlers.terminate_on_nan is not None and handlers.early_stopping is None
    restored_model, restored_optimizer, restored_trainer = _setup()
    Checkpoint.load_objects(
        {"model": restored_model, "optimizer": restored_optimizer, "trainer": restored_trainer},
        tmp_path / "training_checkpoint_6.pt",
    )
    assert restored_trainer.state.iteration == 6


def test_param_scheduler_nan_stop_and_early_stopping() -> None:
    model, optimizer, trainer = _setup()
    evaluator = create_supervised_evaluator(model)
    evaluator.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(score=1.0))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run(_data(1)))
    schedule = PiecewiseLinear(optimizer, "lr", milestones_values=[(0, 0.0), (4, 0.1)])
    handlers = setup_common_training_handlers(
        trainer, lr_scheduler=schedule, with_pbars=False, evaluator=evaluator, metric_name="score", patience=2
    )
    assert handlers.early_stopping is not None and handlers.progress_bar is None
    assert trainer.run(_data(), max_epochs=10).epoch == 3
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)

    diverging: Engine[Any] = Engine(lambda engine, batch: float("nan") if engine.state.iteration == 2 else 1.0)
    setup_common_training_handlers(diverging, with_pbars=False)
    assert diverging.run(_data(), max_epochs=3).iteration == 2


def test_train_sampler_set_epoch() -> None:
    class Sampler:
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.epochs.append(epoch)

    _, _, trainer = _setup()
    sampler = Sampler()
    setup_common_training_handlers(trainer, train_sampler=sampler, with_pbars=False)
    trainer.run(_data(1), max_epochs=3)
    assert sampler.epochs == [0, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"to_save": {"m": nn.Linear(1, 1)}}, ValueError, "output_path or save_handler arguments should be"),
        ({"output_path": "x", "save_handler": print}, ValueError, "mutually exclusive"),
        ({"save_every_iters": 0}, ValueError, "save_every_iters"),
        ({"patience": 3}, ValueError, "Early stopping needs all"),
        ({"lr_scheduler": 0.1}, TypeError, "lr_scheduler must be"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    _, _, trainer = _setup()
    with pytest.raises(error, match=match):
        setup_common_training_handlers(trainer, **kwargs)
    with pytest.raises(TypeError, match="trainer must be"):
        setup_common_training_handlers(object())  # type: ignore[arg-type]


def test_samplers_in_one_process() -> None:
    _, _, trainer = _setup()
    setup_common_training_handlers(trainer, train_sampler=[1, 2], with_pbars=False)  # no set_epoch: nothing to do
    sampler = DistributedSampler(list(range(4)), num_replicas=1, rank=0)
    with pytest.warns(UserWarning, match="Train sampler argument will be ignored"):
        setup_common_training_handlers(trainer, train_sampler=sampler, with_pbars=False)


@pytest.mark.parametrize(
    ("output", "expected"),
    [({"loss": 2.0, "acc": 0.5}, (2.0, 0.5)), ([2.0, 0.5], (2.0, 0.5)), (torch.tensor(3.0), (3.0, 3.0))],
)
def test_output_names_from_a_dict_a_sequence_or_the_output(output: Any, expected: tuple[float, float]) -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: output)
    setup_common_training_handlers(trainer, output_names=["loss", "acc"], with_pbars=False)
    metrics = trainer.run([0, 0]).metrics
    assert (float(metrics["loss"]), float(metrics["acc"])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("output", "error", "match"),
    [({"other": 1.0}, ValueError, "output_names has 'loss'"), ("text", TypeError, "Unhandled type")],
)
def test_output_names_errors(output: Any, error: type[Exception], match: str) -> None:
    trainer: Engine[Any] = Engine(lambda engine, batch: output)
    setup_common_training_handlers(trainer, output_names=["loss"], with_pbars=False)
    with pytest.raises(error, match=match):
        trainer.run([0])


def test_any_logging_is_gone_and_cuda_cache_helper_runs() -> None:
    with pytest.raises(DeprecationWarning, match=r"deprecated since version 0\.4\.0"):
        setup_any_logging(None, None, None, None, None, 1)  # type: ignore[arg-type]
    empty_cuda_cache(Engine(lambda e, b: None))


def test_best_model_saving_by_validation_score(tmp_path: Path) -> None:
    model, _, trainer = _setup()
    evaluator = create_supervised_evaluator(model)
    scores = iter([0.2, 0.8, 0.5, 0.9])
    evaluator.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(acc=next(scores)))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run(_data(1)))
    (tmp_path / "log.csv").write_text("other files are fine")
    best = save_best_model_by_val_score(tmp_path, evaluator, model, "acc", n_saved=2, trainer=trainer)
    trainer.run(_data(1), max_epochs=4)
    assert sorted(os.listdir(tmp_path)) == [
        "best_model_2_val_acc=0.8000.pt",
        "best_model_4_val_acc=0.9000.pt",
        "log.csv",
    ]
    assert best.last_checkpoint == tmp_path / "best_model_4_val_acc=0.9000.pt"
    several = gen_save_best_models_by_val_score(
        lambda checkpoint, filename: None, evaluator, {"a": model, "b": nn.Linear(1, 1)}, "acc", score_sign=-1.0
    )
    assert set(several.to_save) == {"a", "b"}


def _distributed_setup(local_rank: int, folder: str) -> dict[str, Any]:
    """Run in each of two gloo processes: the sampler rules and rank-0-only side effects."""
    from torch.utils.data import RandomSampler

    trainer: Engine[Any] = Engine(lambda engine, batch: 0.5)
    refused = ""
    try:
        setup_common_training_handlers(trainer, train_sampler=RandomSampler([0, 1]), with_pbars=False)
    except TypeError as error:
        refused = str(error)
    sampler = DistributedSampler(list(range(8)), num_replicas=2, rank=local_rank)
    epochs: list[int] = []
    sampler.set_epoch = epochs.append  # type: ignore[method-assign]
    trainer = Engine(lambda engine, batch: 0.5)
    handlers = setup_common_training_handlers(
        trainer, train_sampler=sampler, to_save={"model": nn.Linear(1, 1)}, save_every_iters=2, output_path=folder
    )
    trainer.run([0, 0], max_epochs=3)
    return {"refused": refused, "epochs": epochs, "has_bar": handlers.progress_bar is not None}


@pytest.mark.slow
def test_two_processes(tmp_path: Path) -> None:
    from cadence import distributed as idist

    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(_distributed_setup, str(tmp_path))
    assert all("Train sampler should be torch DistributedSampler" in r["refused"] for r in results)
    assert [r["epochs"] for r in results] == [[0, 1, 2], [0, 1, 2]]
    assert [r["has_bar"] for r in results] == [True, False]
    assert os.listdir(tmp_path) == ["training_model_6.pt"]  # written once, by rank 0
