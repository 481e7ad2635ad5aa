"""The cases of ``tests/test_ignite_parity.py`` but the metrics: each builds one public Ignite class, in both
libraries alike, and uses it as Ignite's documentation does; it returns the object to compare.

``CASES`` maps a case's name to its builder ``builder(lib)``, where ``lib("handlers")`` is the module of the
library being built (``ignite.handlers`` or ``cadence.handlers``) and ``lib.folder`` a folder of its own.
"""

from __future__ import annotations

import importlib
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tests._parity_metrics import METRICS


class Lib:
    """One library's modules by their path under the package: ``lib("handlers").Timer``."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder / name

    def __call__(self, path: str) -> Any:
        return importlib.import_module(f"{self.name}.{path}")


Builder = Callable[[Lib], Any]
CASES: dict[str, Builder] = {}


def case(name: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        CASES[name] = builder
        return builder

    return register


# ----------------------------------------------------------------------------------------------------------
# Tiny models, data and engines shared by the cases.


def _setup(lib: Lib) -> tuple[Any, nn.Module, torch.optim.Optimizer, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A supervised trainer for a linear model on four batches, with the model, its optimizer and the data."""
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    data = [(torch.randn(3, 2), torch.randn(3, 1)) for _ in range(4)]
    trainer = lib("engine").create_supervised_trainer(model, optimizer, nn.MSELoss())
    return trainer, model, optimizer, data


def _echo_engine(lib: Lib) -> Any:
    return lib("engine").Engine(lambda engine, batch: batch)


def _run_trainer(lib: Lib, attach: Callable[[Any, nn.Module, torch.optim.Optimizer], Any], epochs: int = 2) -> Any:
    """Builds a trainer, lets ``attach`` build and attach the object, runs, returns the object."""
    trainer, model, optimizer, data = _setup(lib)
    built = attach(trainer, model, optimizer)
    trainer.run(data, max_epochs=epochs)
    return built


# ----------------------------------------------------------------------------------------------------------
# Engine


@case("Engine")
def _engine(lib: Lib) -> Any:
    engine = _echo_engine(lib)
    engine.add_event_handler(lib("engine").Events.ITERATION_COMPLETED, lambda e: None)
    engine.run([1, 2, 3], max_epochs=2)
    return engine


@case("Engine (supervised trainer)")
def _trainer(lib: Lib) -> Any:
    return _run_trainer(lib, lambda trainer, model, optimizer: trainer)


@case("Engine (supervised evaluator)")
def _evaluator(lib: Lib) -> Any:
    _, model, _, data = _setup(lib)
    metrics = lib("metrics")
    evaluator = lib("engine").create_supervised_evaluator(model, metrics={"mse": metrics.MeanSquaredError()})
    evaluator.run(data)
    return evaluator


@case("DeterministicEngine")
def _deterministic(lib: Lib) -> Any:
    engine = lib("engine").DeterministicEngine(lambda engine, batch: batch)
    engine.run([1, 2, 3], max_epochs=2)
    return engine


@case("State (DeterministicEngine)")
def _deterministic_state(lib: Lib) -> Any:
    return _deterministic(lib).state


@case("State")
def _state(lib: Lib) -> Any:
    return _engine(lib).state


@case("Events")
def _events(lib: Lib) -> Any:
    return lib("engine").Events


@case("Events member")
def _events_member(lib: Lib) -> Any:
    return lib("engine").Events.ITERATION_COMPLETED


@case("CallableEventWithFilter")
def _filtered_event(lib: Lib) -> Any:
    return lib("engine").Events.ITERATION_COMPLETED(every=2)


@case("EventsList")
def _events_list(lib: Lib) -> Any:
    events = lib("engine").Events
    return events.STARTED | events.ITERATION_COMPLETED(every=2)


@case("EventEnum member")
def _custom_event(lib: Lib) -> Any:
    class Custom(lib("engine").EventEnum):  # type: ignore[misc]  # a base class chosen at run time
        STEP = "step"

    engine = _echo_engine(lib)
    state_class = lib("engine").State
    table = vars(state_class).get("event_to_attr")  # Ignite registers the counter class-wide: put it back after
    table = None if table is None else dict(table)
    engine.register_events(*Custom, event_to_attr={Custom.STEP: "step"})
    engine.add_event_handler(lib("engine").Events.ITERATION_COMPLETED, lambda e: e.fire_event(Custom.STEP))
    engine.run([1, 2], max_epochs=1)
    if table is not None:
        state_class.event_to_attr = table
    return Custom.STEP


@case("RemovableEventHandle")
def _handle(lib: Lib) -> Any:
    engine = _echo_engine(lib)
    handle = engine.add_event_handler(lib("engine").Events.STARTED, lambda e: None)
    engine.run([1], max_epochs=1)
    return handle


@case("ReproducibleBatchSampler")
def _reproducible_sampler(lib: Lib) -> Any:
    sampler = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(6)), 2, False)
    reproducible = lib("engine.deterministic").ReproducibleBatchSampler(sampler)
    reproducible.setup_batch_indices()
    list(reproducible)
    return reproducible


@case("Tbptt_Events")
def _tbptt_events(lib: Lib) -> Any:
    return lib("contrib.engines.tbptt").Tbptt_Events.TIME_ITERATION_COMPLETED


# ----------------------------------------------------------------------------------------------------------
# Checkpoints


def _to_save(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {"model": model, "optimizer": optimizer}


@case("DiskSaver")
def _disk_saver(lib: Lib) -> Any:
    handlers = lib("handlers")
    saver = handlers.DiskSaver(lib.folder / "disk", require_empty=False)

    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        checkpoint = handlers.Checkpoint(_to_save(model, optimizer), saver, n_saved=1)
        trainer.add_event_handler(lib("engine").Events.EPOCH_COMPLETED, checkpoint)
        return saver

    return _run_trainer(lib, attach)


@case("Checkpoint")
def _checkpoint(lib: Lib) -> Any:
    handlers = lib("handlers")

    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        checkpoint = handlers.Checkpoint(
            _to_save(model, optimizer),
            handlers.DiskSaver(lib.folder / "checkpoint", require_empty=False),
            n_saved=2,
            score_function=lambda engine: -engine.state.iteration,
            score_name="neg_iteration",
            global_step_transform=handlers.global_step_from_engine(trainer),
        )
        trainer.add_event_handler(lib("engine").Events.EPOCH_COMPLETED, checkpoint)
        return checkpoint

    return _run_trainer(lib, attach)


@case("ModelCheckpoint")
def _model_checkpoint(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        checkpoint = lib("handlers").ModelCheckpoint(lib.folder / "model", "run", n_saved=2, require_empty=False)
        trainer.add_event_handler(lib("engine").Events.EPOCH_COMPLETED, checkpoint, _to_save(model, optimizer))
        return checkpoint

    return _run_trainer(lib, attach)


# ----------------------------------------------------------------------------------------------------------
# Handlers that watch or stop the run


@case("EarlyStopping")
def _early_stopping(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        stopper = lib("handlers").EarlyStopping(patience=1, score_function=lambda engine: 1.0, trainer=trainer)
        trainer.add_event_handler(lib("engine").Events.EPOCH_COMPLETED, stopper)
        return stopper

    return _run_trainer(lib, attach, epochs=3)


@case("Timer")
def _timer(lib: Lib) -> Any:
    events = lib("engine").Events

    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        timer = lib("handlers").Timer(average=True)
        return timer.attach(
            trainer,
            start=events.EPOCH_STARTED,
            resume=events.ITERATION_STARTED,
            pause=events.ITERATION_COMPLETED,
            step=events.ITERATION_COMPLETED,
        )

    return _run_trainer(lib, attach)


@case("TerminateOnNan")
def _terminate_on_nan(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        handler = lib("handlers").TerminateOnNan()
        trainer.add_event_handler(lib("engine").Events.ITERATION_COMPLETED, handler)
        return handler

    return _run_trainer(lib, attach)


@case("TimeLimit")
def _time_limit(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        handler = lib("handlers").TimeLimit(limit_sec=600)
        trainer.add_event_handler(lib("engine").Events.ITERATION_COMPLETED, handler)
        return handler

    return _run_trainer(lib, attach)


@case("EpochOutputStore")
def _epoch_output_store(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        store = lib("handlers").EpochOutputStore()
        store.attach(trainer, name="outputs")
        return store

    return _run_trainer(lib, attach)


@case("ProgressBar")
def _progress_bar(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        bar = lib("handlers").ProgressBar(persist=True, file=io.StringIO())
        bar.attach(trainer, output_transform=lambda loss: {"loss": loss})
        bar.log_message("hello")
        return bar

    return _run_trainer(lib, attach)


@case("EMAHandler")
def _ema(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        ema = lib("handlers").EMAHandler(model, momentum=0.01, momentum_warmup=0.1, warmup_iters=3)
        ema.attach(trainer, name="ema_momentum")
        return ema

    return _run_trainer(lib, attach)


@case("BasicTimeProfiler")
def _basic_profiler(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        profiler = lib("handlers").BasicTimeProfiler()
        profiler.attach(trainer)
        return profiler

    profiler = _run_trainer(lib, attach)
    profiler.get_results()
    return profiler


@case("HandlersTimeProfiler")
def _handlers_profiler(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        profiler = lib("handlers").HandlersTimeProfiler()
        profiler.attach(trainer)
        trainer.add_event_handler(lib("engine").Events.EPOCH_COMPLETED, lambda e: None)
        return profiler

    profiler = _run_trainer(lib, attach)
    profiler.get_results()
    return profiler


@case("FBResearchLogger")
def _fbresearch(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        logger = logging.getLogger(f"parity.{lib.name}.fbresearch")
        logger.propagate = False
        research = lib("handlers").FBResearchLogger(logger, show_output=True)
        research.attach(trainer, name="Train", every=2, optimizer=optimizer)
        return research

    return _run_trainer(lib, attach)


@case("FastaiLRFinder")
def _lr_finder(lib: Lib) -> Any:
    trainer, model, optimizer, data = _setup(lib)
    finder = lib("handlers").FastaiLRFinder()
    with finder.attach(trainer, _to_save(model, optimizer), num_iter=6, end_lr=1.0) as finding:
        finding.run(data, max_epochs=2)
    finder.lr_suggestion()
    finder.get_results()
    return finder


# ----------------------------------------------------------------------------------------------------------
# Parameter schedulers


def _scheduled(lib: Lib, make: Callable[[Any, torch.optim.Optimizer], Any], event: str = "ITERATION_STARTED") -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        scheduler = make(lib("handlers"), optimizer)
        trainer.add_event_handler(getattr(lib("engine").Events, event), scheduler)
        return scheduler

    return _run_trainer(lib, attach)


def _linear(handlers: Any, optimizer: torch.optim.Optimizer, param: str = "lr") -> Any:
    return handlers.LinearCyclicalScheduler(optimizer, param, 0.1, 0.5, cycle_size=4, save_history=True)


def _cosine(handlers: Any, optimizer: torch.optim.Optimizer, param: str = "lr") -> Any:
    return handlers.CosineAnnealingScheduler(optimizer, param, 0.5, 0.1, cycle_size=4)


SCHEDULERS: dict[str, Callable[[Any, torch.optim.Optimizer], Any]] = {
    "LinearCyclicalScheduler": _linear,
    "CosineAnnealingScheduler": _cosine,
    "PiecewiseLinear": lambda h, o: h.PiecewiseLinear(o, "lr", milestones_values=[(0, 0.1), (5, 0.01)]),
    "ConcatScheduler": lambda h, o: h.ConcatScheduler([_linear(h, o), _cosine(h, o)], durations=[3]),
    "LRScheduler": lambda h, o: h.LRScheduler(torch.optim.lr_scheduler.StepLR(o, step_size=2), save_history=True),
    "ParamGroupScheduler": lambda h, o: h.ParamGroupScheduler(
        [_linear(h, o, "lr"), _cosine(h, o, "momentum")], names=["lr", "momentum"]
    ),
    "create_lr_scheduler_with_warmup": lambda h, o: h.create_lr_scheduler_with_warmup(
        torch.optim.lr_scheduler.StepLR(o, step_size=2), warmup_start_value=0.0, warmup_duration=3
    ),
}

for _name, _make in SCHEDULERS.items():
    case(_name)(lambda lib, make=_make: _scheduled(lib, make))


@case("ReduceLROnPlateauScheduler")
def _plateau(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        events = lib("engine").Events
        trainer.add_event_handler(events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(loss=1.0))
        scheduler = lib("handlers").ReduceLROnPlateauScheduler(
            optimizer, metric_name="loss", trainer=trainer, save_history=True, patience=0, factor=0.5
        )
        trainer.add_event_handler(events.EPOCH_COMPLETED, scheduler)
        return scheduler

    return _run_trainer(lib, attach, epochs=3)


@case("BatchSizeScheduler")
def _batch_size(lib: Lib) -> Any:
    loader = torch.utils.data.DataLoader(list(range(12)), batch_size=2)
    scheduler = lib("handlers").BatchSizeScheduler(loader, lambda epoch: 2 + epoch, save_history=True)
    engine = _echo_engine(lib)
    engine.add_event_handler(lib("engine").Events.EPOCH_STARTED, scheduler)
    engine.run(loader, max_epochs=2)
    return scheduler


STATE_SCHEDULERS: dict[str, Callable[[Any], Any]] = {
    "LambdaStateScheduler": lambda h: h.LambdaStateScheduler(lambda event: 0.9**event, "alpha", save_history=True),
    "PiecewiseLinearStateScheduler": lambda h: h.PiecewiseLinearStateScheduler(
        [(0, 1.0), (4, 0.0)], "alpha", save_history=True
    ),
    "ExpStateScheduler": lambda h: h.ExpStateScheduler(1.0, 0.9, "alpha", save_history=True),
    "StepStateScheduler": lambda h: h.StepStateScheduler(1.0, 0.5, 2, "alpha", save_history=True),
    "MultiStepStateScheduler": lambda h: h.MultiStepStateScheduler(1.0, 0.5, [2, 5], "alpha", save_history=True),
}


def _state_scheduled(lib: Lib, make: Callable[[Any], Any]) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        scheduler = make(lib("handlers"))
        scheduler.attach(trainer, lib("engine").Events.ITERATION_COMPLETED)
        return scheduler

    return _run_trainer(lib, attach)


for _name, _make_state in STATE_SCHEDULERS.items():
    case(_name)(lambda lib, make=_make_state: _state_scheduled(lib, make))


# ----------------------------------------------------------------------------------------------------------
# Loggers


@case("TensorboardLogger")
def _tensorboard(lib: Lib) -> Any:
    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        logger = lib("handlers").TensorboardLogger(log_dir=lib.folder / "tb")
        events = lib("engine").Events
        logger.attach_output_handler(trainer, events.ITERATION_COMPLETED, tag="train", output_transform=float)
        logger.attach_opt_params_handler(trainer, lib("engine").Events.ITERATION_STARTED, optimizer)
        return logger

    logger = _run_trainer(lib, attach)
    logger.close()
    return logger


TB_HANDLERS = ("OutputHandler", "OptimizerParamsHandler", "WeightsScalarHandler", "WeightsHistHandler")
TB_HANDLERS += ("GradsScalarHandler", "GradsHistHandler")


def _tb_handler_args(name: str, model: nn.Module, optimizer: torch.optim.Optimizer, trainer: Any) -> dict[str, Any]:
    if name == "OutputHandler":
        return {"tag": "train", "output_transform": float, "global_step_transform": lambda engine, event: 1}
    if name == "OptimizerParamsHandler":
        return {"optimizer": optimizer, "param_name": "lr", "tag": "opt"}
    return {"model": model, "tag": "net"}


def _tensorboard_handler(lib: Lib, name: str) -> Any:
    module = lib("handlers.tensorboard_logger")

    def attach(trainer: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> Any:
        logger = module.TensorboardLogger(log_dir=lib.folder / f"tb_{name}")
        handler = getattr(module, name)(**_tb_handler_args(name, model, optimizer, trainer))
        logger.attach(trainer, handler, lib("engine").Events.ITERATION_COMPLETED)
        trainer.add_event_handler(lib("engine").Events.COMPLETED, lambda e: logger.close())
        return handler

    return _run_trainer(lib, attach)


for _handler in TB_HANDLERS:
    case(f"tensorboard_logger.{_handler}")(lambda lib, name=_handler: _tensorboard_handler(lib, name))


# The service loggers need a client and often a server: their classes are compared, and their handlers (which
# need neither) are built.
SERVICE_LOGGERS = {
    "clearml_logger": "ClearMLLogger",
    "mlflow_logger": "MLflowLogger",
    "neptune_logger": "NeptuneLogger",
    "polyaxon_logger": "PolyaxonLogger",
    "visdom_logger": "VisdomLogger",
    "wandb_logger": "WandBLogger",
}

for _module, _logger in SERVICE_LOGGERS.items():
    case(f"{_module}.{_logger} (class)")(
        lambda lib, module=_module, logger=_logger: getattr(lib(f"handlers.{module}"), logger)
    )


def _service_handler(lib: Lib, module_name: str, name: str) -> Any:
    _, model, optimizer, _ = _setup(lib)
    return getattr(lib(f"handlers.{module_name}"), name)(**_tb_handler_args(name, model, optimizer, None))


for _module in SERVICE_LOGGERS:
    for _handler in TB_HANDLERS:
        if hasattr(importlib.import_module(f"ignite.handlers.{_module}"), _handler):
            case(f"{_module}.{_handler}")(lambda lib, m=_module, h=_handler: _service_handler(lib, m, h))

# Classes compared as classes: abstract ones, and those Ignite cannot build here (GpuInfo needs CUDA, the
# detection metrics torchvision).
CLASSES_ONLY = {
    "handlers.base_logger": ("BaseLogger", "BaseHandler", "BaseOptimizerParamsHandler", "BaseOutputHandler"),
    "handlers.checkpoint": ("BaseSaveHandler",),
    "handlers.param_scheduler": ("BaseParamScheduler", "ParamScheduler", "CyclicalScheduler"),
    "handlers.state_param_scheduler": ("StateParamScheduler",),
    "base.mixins": ("Serializable", "ResettableHandler"),
    "metrics": ("Metric", "GpuInfo", "ObjectDetectionAvgPrecisionRecall", "CommonObjectDetectionMetrics"),
    "exceptions": ("NotComputableError",),
    "distributed.comp_models.base": ("ComputationModel",),
}
CLASSES_ONLY["handlers.base_logger"] += ("BaseWeightsHandler", "BaseWeightsScalarHandler")
for _module, _classes in CLASSES_ONLY.items():
    for _class in _classes:
        case(f"{_class} (class)")(lambda lib, module=_module, name=_class: getattr(lib(module), name))


# ----------------------------------------------------------------------------------------------------------
# Distributed helpers


@case("Parallel")
def _parallel(lib: Lib) -> Any:
    with lib("distributed").Parallel(backend=None) as parallel:
        parallel.run(lambda local_rank: None)
    return parallel


@case("DistributedProxySampler")
def _proxy_sampler(lib: Lib) -> Any:
    sampler = lib("distributed").DistributedProxySampler(torch.utils.data.SequentialSampler(range(8)), 2, 0)
    sampler.set_epoch(1)
    list(sampler)
    return sampler


@case("DistributedProxySampler (class)")
def _proxy_sampler_class(lib: Lib) -> Any:
    return lib("distributed").DistributedProxySampler


@case("Parallel (class)")
def _parallel_class(lib: Lib) -> Any:
    return lib("distributed").Parallel


# ----------------------------------------------------------------------------------------------------------
# Metrics: each is attached to an evaluator that runs on two batches of ``(y_pred, y)`` pairs.

for _name, (_factory, _batches) in METRICS.items():
    case(_name)(
        lambda lib, factory=_factory, batches=_batches: _evaluated(lib, factory, batches),
    )


USAGES: dict[str, tuple[Any, ...]] = {"EpochWise": (), "BatchWise": (), "RunningEpochWise": (), "RunningBatchWise": ()}
USAGES["SingleEpochRunningBatchWise"] = ()
USAGES["BatchFiltered"] = (lambda engine, event: event % 2 == 0,)
for _name, _args in USAGES.items():
    case(_name)(lambda lib, name=_name, args=_args: getattr(lib("metrics.metric"), name)(*args))


def _evaluated(lib: Lib, factory: Callable[[Any], Any], batches: Callable[[], list[Any]]) -> Any:
    torch.manual_seed(0)
    metric = factory(lib)
    evaluator = _echo_engine(lib)
    metric.attach(evaluator, "value")
    evaluator.run(batches(), max_epochs=1)
    return metric
