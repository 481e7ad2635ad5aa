"""The public attributes that cadence added for Ignite's clients behave as Ignite's, compared side by side."""

from __future__ import annotations

import io
import time
from typing import Any

import ignite.distributed as ignite_distributed
import ignite.engine as ignite_engine
import ignite.handlers as ignite_handlers
import ignite.metrics as ignite_metrics
import pytest
import torch
from ignite.metrics.clustering import SilhouetteScore as IgniteSilhouette
from ignite.metrics.regression import KendallRankCorrelation as IgniteKendall
from ignite.metrics.regression import MedianAbsoluteError as IgniteMedian
from ignite.metrics.regression import SpearmanRankCorrelation as IgniteSpearman
from torch import nn

import cadence.distributed as cadence_distributed
import cadence.engine as cadence_engine
import cadence.handlers as cadence_handlers
import cadence.metrics as cadence_metrics
from cadence.exceptions import CheckpointMismatchError
from cadence.handlers.base_logger import BaseLogger
from cadence.metrics.clustering import SilhouetteScore as CadenceSilhouette
from cadence.metrics.regression import KendallRankCorrelation as CadenceKendall
from cadence.metrics.regression import MedianAbsoluteError as CadenceMedian
from cadence.metrics.regression import SpearmanRankCorrelation as CadenceSpearman


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)


@pytest.mark.parametrize("warmup", [0, 2])
@pytest.mark.parametrize("kind", ["LinearCyclicalScheduler", "CosineAnnealingScheduler"])
def test_cyclical_position_after_each_call_is_ignites(kind: str, warmup: int) -> None:
    kwargs: dict[str, Any] = {"cycle_size": 4, "cycle_mult": 2.0, "warmup_duration": warmup}
    if kind == "LinearCyclicalScheduler" and warmup:
        kwargs["monotonic"] = True
    ignite_opt, cadence_opt = _optimizer(), _optimizer()
    ignite_scheduler = getattr(ignite_handlers, kind)(ignite_opt, "lr", 1.0, 0.0, **kwargs)
    cadence_scheduler = getattr(cadence_handlers, kind)(cadence_opt, "lr", 1.0, 0.0, **kwargs)
    names = ("event_index", "cycle", "cycle_size", "warmup_duration", "total_cycle_size")
    for _ in range(20):
        ignite_scheduler(None)
        cadence_scheduler(None)
        assert cadence_opt.param_groups[0]["lr"] == pytest.approx(ignite_opt.param_groups[0]["lr"])
        assert [getattr(cadence_scheduler, n) for n in names] == [getattr(ignite_scheduler, n) for n in names]


def _profiled(engine_module: Any, handlers_module: Any) -> Any:
    engine = engine_module.Engine(lambda engine, batch: batch)

    @engine.on(engine_module.Events.EPOCH_COMPLETED)
    def log_epoch(engine: Any) -> None:
        pass

    profiler = handlers_module.BasicTimeProfiler()
    profiler.attach(engine)
    engine.run(range(3), max_epochs=2)
    return profiler


def test_basic_time_profiler_views_are_ignites() -> None:
    ignite_profiler = _profiled(ignite_engine, ignite_handlers)
    cadence_profiler = _profiled(cadence_engine, cadence_handlers)
    assert (cadence_profiler.max_epochs, cadence_profiler.total_num_iters) == (2, 6)
    assert (ignite_profiler.max_epochs, ignite_profiler.total_num_iters) == (2, 6)
    assert cadence_profiler.processing_times.shape == ignite_profiler.processing_times.shape
    assert cadence_profiler.dataflow_times.shape == ignite_profiler.dataflow_times.shape
    assert bool((cadence_profiler.processing_times > 0).all())
    ignite_times = {event.name: times.shape for event, times in ignite_profiler.event_handlers_times.items()}
    cadence_times = {event.name: times.shape for event, times in cadence_profiler.event_handlers_times.items()}
    assert cadence_times == ignite_times
    assert cadence_profiler.event_handlers_times[cadence_engine.Events.EPOCH_COMPLETED].gt(0).all()
    ignite_names = {event.name: names for event, names in ignite_profiler.event_handlers_names.items()}
    cadence_names = {event.name: names for event, names in cadence_profiler.event_handlers_names.items()}
    assert cadence_names == ignite_names
    assert [e.name for e in cadence_handlers.BasicTimeProfiler.events_to_ignore] == [
        e.name for e in ignite_handlers.BasicTimeProfiler.events_to_ignore
    ]


def test_basic_time_profiler_before_a_run_is_ignites() -> None:
    profiler = cadence_handlers.BasicTimeProfiler()
    assert profiler.dataflow_times.shape == ignite_handlers.BasicTimeProfiler().dataflow_times.shape == (1,)
    assert profiler.event_handlers_times == {}
    assert not hasattr(profiler, "max_epochs") and not hasattr(ignite_handlers.BasicTimeProfiler(), "max_epochs")


def test_handlers_time_profiler_names_and_times_are_keyed_by_event() -> None:
    engine = cadence_engine.Engine(lambda engine, batch: batch)
    profiler = cadence_handlers.HandlersTimeProfiler()
    profiler.attach(engine)

    @engine.on(cadence_engine.Events.EPOCH_COMPLETED)
    def log_epoch(engine: Any) -> None:
        pass

    engine.run(range(3), max_epochs=2)
    event = cadence_engine.Events.EPOCH_COMPLETED
    assert profiler.event_handlers_names[event] == [
        "test_handlers_time_profiler_names_and_times_are_keyed_by_event.<locals>.log_epoch"
    ]
    assert len(profiler.event_handlers_times[event][profiler.event_handlers_names[event][0]]) == 2


@pytest.mark.parametrize("smooth", ["no_smooth", "smooth1", "nltk_smooth2", "smooth2"])
def test_bleu_smoother_and_weights_are_ignites(smooth: str) -> None:
    ignite_bleu, cadence_bleu = (
        ignite_metrics.Bleu(ngram=3, smooth=smooth),
        cadence_metrics.Bleu(ngram=3, smooth=smooth),
    )
    assert cadence_bleu.weights == ignite_bleu.weights
    assert cadence_bleu.smoother.smooth == ignite_bleu.smoother.smooth == smooth
    numerators, denominators = torch.tensor([5.0, 2.0, 0.0]), torch.tensor([6.0, 5.0, 4.0])
    expected = [float(value) for value in ignite_bleu.smoother(numerators, denominators)]
    assert cadence_bleu.smoother(numerators, denominators) == pytest.approx(expected)
    candidate, references = ["the", "cat", "sat", "on", "the", "mat"], [["the", "cat", "is", "on", "the", "mat"]]
    for bleu in (ignite_bleu, cadence_bleu):
        bleu.weights = [0.5, 0.5, 0.0]  # a client's own weighting is used by compute, as in Ignite
        bleu.update(([candidate], [references]))
    assert float(cadence_bleu.compute()) == pytest.approx(float(ignite_bleu.compute()))


@pytest.mark.parametrize(
    ("ignite_class", "cadence_class", "inputs"),
    [
        (IgniteMedian, CadenceMedian, (torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 4.0, 1.0]))),
        (IgniteSpearman, CadenceSpearman, (torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 4.0]))),
        (IgniteKendall, CadenceKendall, (torch.tensor([0.5, 2.8, 1.9, 1.3]), torch.tensor([0.0, 1.0, 2.0, 3.0]))),
        (
            IgniteSilhouette,
            CadenceSilhouette,
            (torch.tensor([[0.0], [1.0], [10.0], [11.0]]), torch.tensor([0, 0, 1, 1])),
        ),
    ],
)
def test_compute_fn_gives_ignites_value(ignite_class: Any, cadence_class: Any, inputs: tuple[Any, Any]) -> None:
    assert cadence_class().compute_fn(*inputs) == pytest.approx(float(ignite_class().compute_fn(*inputs)))


@pytest.mark.parametrize("average", [None, "samples", "recall", "precision"])
def test_confusion_matrix_average_reads_as_ignites(average: str | None) -> None:
    cadence_cm = cadence_metrics.ConfusionMatrix(3, average=average)
    assert cadence_cm.average == ignite_metrics.ConfusionMatrix(3, average=average).average
    assert cadence_cm.average in (None, "samples") or average in ("recall", "precision")


def test_precision_recall_eps_and_ssim_pads_are_ignites() -> None:
    assert cadence_metrics.Precision().eps == ignite_metrics.Precision().eps
    assert cadence_metrics.Recall().eps == ignite_metrics.Recall().eps
    for kwargs in ({"kernel_size": (7, 9)}, {"kernel_size": (7, 9, 5), "ndims": 3}):
        ignite_ssim, cadence_ssim = ignite_metrics.SSIM(1.0, **kwargs), cadence_metrics.SSIM(1.0, **kwargs)
        pads = [(s.pad_h, s.pad_w, s.pad_d) for s in (ignite_ssim, cadence_ssim)]
        assert pads[0] == pads[1]


def test_fid_reads_a_mapping_output_at_y_pred_and_y() -> None:
    evaluator = cadence_engine.Engine(lambda engine, batch: {"y_pred": batch[0], "y": batch[1], "loss": 0.0})
    fid = cadence_metrics.FID(num_features=2, feature_extractor=nn.Identity())
    fid.attach(evaluator, "fid")
    data = [(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.tensor([[1.0, 1.0], [3.0, 3.0]]))]
    assert evaluator.run(data).metrics["fid"] == pytest.approx(2.0)


def test_progress_bar_is_a_base_logger_with_its_bar() -> None:
    stream = io.StringIO()
    trainer = cadence_engine.Engine(lambda engine, batch: 0.5)
    bar = cadence_handlers.ProgressBar(file=stream)
    assert isinstance(bar, BaseLogger) and bar.pbar is None
    assert bar.attach_opt_params_handler(trainer, cadence_engine.Events.ITERATION_COMPLETED, _optimizer()) is None
    bar.attach_output_handler(trainer, cadence_engine.Events.ITERATION_COMPLETED, "Training", output_transform=float)
    seen: list[Any] = []
    trainer.add_event_handler(cadence_engine.Events.ITERATION_COMPLETED, lambda: seen.append(bar.pbar))
    trainer.run(range(2))
    assert isinstance(seen[0], bar.pbar_cls) and bar.pbar is None
    assert "Training" in stream.getvalue()
    other, engine = cadence_handlers.ProgressBar(file=io.StringIO()), cadence_engine.Engine(lambda e, b: None)
    other.attach(engine)
    open_then_closed: list[Any] = []

    @engine.on(cadence_engine.Events.ITERATION_COMPLETED)
    def close_the_bar() -> None:
        open_then_closed.append(other.pbar)
        other.close()
        open_then_closed.append(other.pbar)

    engine.run(range(1))
    assert open_then_closed[0] is not None and open_then_closed[1] is None


def test_time_limit_start_time_is_wall_clock_and_can_be_reset() -> None:
    limit = cadence_handlers.TimeLimit(limit_sec=1)
    assert abs(limit.start_time - time.time()) < 60
    engine = cadence_engine.Engine(lambda engine, batch: None)
    engine.add_event_handler(cadence_engine.Events.ITERATION_COMPLETED, limit)
    limit.start_time = time.time() - 10  # a client moves the clock back, as with Ignite's
    assert engine.run(range(5)).iteration == 1


def test_deterministic_state_holds_loaded_rng_states_until_the_run_restores_them() -> None:
    engine = cadence_engine.DeterministicEngine(lambda engine, batch: torch.rand(1).item(), seed=3)
    assert engine.state.rng_states is None  # as Ignite: the attribute exists from the start
    engine.run(range(4), max_epochs=2)
    saved = engine.state_dict()
    resumed = cadence_engine.DeterministicEngine(lambda engine, batch: torch.rand(1).item(), seed=3)
    resumed.load_state_dict(saved)
    assert resumed.state.rng_states is saved["rng_states"]
    resumed.run(range(4), max_epochs=3)
    assert resumed.state.rng_states is None


# Where Ignite only calls methods on what it is given, an object used like a module or an optimizer works.
class ModelLike:
    """Not an nn.Module: called, and put in train/eval mode, as Ignite's supervised steps do."""

    def __init__(self) -> None:
        self.net = nn.Linear(2, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def train(self, mode: bool = True) -> ModelLike:
        self.net.train(mode)
        return self

    def eval(self) -> ModelLike:
        return self.train(False)


class OptimizerLike:
    """Not a torch.optim.Optimizer: a wrapper with zero_grad() and step()."""

    def __init__(self, model: ModelLike) -> None:
        self.inner = torch.optim.SGD(model.net.parameters(), lr=0.1)
        self.param_groups = self.inner.param_groups

    def zero_grad(self) -> None:
        self.inner.zero_grad()

    def step(self) -> None:
        self.inner.step()


@pytest.mark.parametrize("engine_module", [ignite_engine, cadence_engine], ids=["ignite", "cadence"])
def test_supervised_engines_take_objects_used_like_a_model_and_an_optimizer(engine_module: Any) -> None:
    torch.manual_seed(0)
    model = ModelLike()
    before = model.net.weight.detach().clone()
    data = [(torch.randn(4, 2), torch.randn(4, 1))]
    trainer = engine_module.create_supervised_trainer(model, OptimizerLike(model), nn.MSELoss(), device="cpu")
    trainer.run(data, max_epochs=2)
    assert not torch.equal(model.net.weight, before)
    y_pred, _ = engine_module.create_supervised_evaluator(model, device="cpu").run(data).output
    assert y_pred.shape == (4, 1)


def test_what_is_no_model_or_optimizer_is_still_refused() -> None:
    with pytest.raises(TypeError, match="has no zero_grad"):
        cadence_engine.create_supervised_trainer(nn.Linear(2, 1), object(), nn.MSELoss())
    with pytest.raises(TypeError, match="has no __call__"):
        cadence_engine.create_supervised_evaluator(object())


def test_auto_optim_returns_an_optimizer_like_object_as_ignite() -> None:
    optimizer = OptimizerLike(ModelLike())
    assert cadence_distributed.auto_optim(optimizer) is optimizer
    assert ignite_distributed.auto_optim(optimizer) is optimizer
    with pytest.raises(TypeError, match="auto_optim needs"):
        cadence_distributed.auto_optim(nn.Linear(2, 1))


# Where Ignite lets an exception through, code may catch its type: cadence's error is also of that type.
@pytest.mark.parametrize("batch", [3, torch.zeros(3), (1, 2, 3)], ids=["int", "3-row tensor", "triple"])
def test_a_batch_that_is_no_pair_raises_what_ignite_raises(batch: Any) -> None:
    with pytest.raises(Exception) as ignite_caught:
        ignite_engine._prepare_batch(batch)
    with pytest.raises(type(ignite_caught.value), match="expects an \\(x, y\\) pair"):
        cadence_engine.supervised.prepare_batch(batch)


class _OwnError(Exception):
    pass


class _RefusingState:
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Any) -> None:
        raise _OwnError("this state is not mine")


def test_an_error_of_an_object_being_loaded_keeps_its_type() -> None:
    with pytest.raises(_OwnError):
        ignite_handlers.Checkpoint.load_objects({"state": _RefusingState()}, {"state": {}})
    with pytest.raises(_OwnError) as caught:
        cadence_handlers.Checkpoint.load_objects({"state": _RefusingState()}, {"state": {}})
    assert isinstance(caught.value, CheckpointMismatchError) and "nothing was changed" in str(caught.value)
