"""One-call setups of the usual training handlers: NaN check, LR schedule, checkpoints, progress bar,
early stopping and best-model saving.

Progress bars, schedulers and metrics are imported when a function needs them, so importing this
module costs nothing extra.
"""

from __future__ import annotations

import functools
import gc
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from cadence.distributed import get_rank, get_world_size
from cadence.engine import Engine, Events
from cadence.handlers.checkpointer import Checkpoint, SaveHandler
from cadence.handlers.early_stopping import EarlyStopping
from cadence.handlers.savers import DiskSaver
from cadence.handlers.terminate_on_nan import TerminateOnNan
from cadence.loggers.base import global_step_from_engine
from cadence.utils import deprecated

if TYPE_CHECKING:
    from cadence.handlers.progress_bar import ProgressBar
    from cadence.metrics.gpu_info import GpuInfo

__all__ = [
    "CommonHandlers",
    "add_early_stopping_by_val_score",
    "empty_cuda_cache",
    "gen_save_best_models_by_val_score",
    "get_default_score_fn",
    "save_best_model_by_val_score",
    "setup_any_logging",
    "setup_common_distrib_training_handlers",
    "setup_common_training_handlers",
]


@dataclass
class CommonHandlers:
    """The handlers :func:`setup_common_training_handlers` attached (``None`` where not asked for).

    Example:
        >>> CommonHandlers().checkpoint is None
        True
    """

    checkpoint: Checkpoint | None = None
    progress_bar: ProgressBar | None = None
    lr_scheduler: Any = None
    terminate_on_nan: TerminateOnNan | None = None
    early_stopping: EarlyStopping | None = None
    gpu_info: GpuInfo | None = None


def _attach_lr_scheduler(trainer: Engine[Any], lr_scheduler: Any) -> Any:
    """A torch scheduler steps after each iteration; a cadence scheduler (any handler) runs before each."""
    if isinstance(lr_scheduler, torch.optim.lr_scheduler.LRScheduler):
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda: lr_scheduler.step())
    elif callable(lr_scheduler):
        trainer.add_event_handler(Events.ITERATION_STARTED, lr_scheduler)
    else:
        raise TypeError(
            "lr_scheduler must be a torch.optim.lr_scheduler scheduler or a cadence ParamScheduler, "
            f"got {type(lr_scheduler).__name__}."
        )
    return lr_scheduler


def _checkpoint_store(output_path: str | Path | None, save_handler: SaveHandler | None) -> SaveHandler:
    if save_handler is not None:
        return save_handler
    if output_path is None:
        raise ValueError(
            "If to_save argument is provided then output_path or save_handler arguments should be also defined: "
            "give the folder to write checkpoints in (output_path) or a save_handler."
        )
    return DiskSaver(output_path, require_empty=False)


def _output_part(output: Any, index: int, name: str) -> Any:
    """The ``name``-th running average's value: ``output[name]``, ``output[index]`` or the output itself."""
    if isinstance(output, Mapping):
        if name not in output:
            raise ValueError(
                f"output_names has {name!r}, but the trainer's output has only the keys {sorted(output)}; make the "
                "process function return a dict with that key."
            )
        return output[name]
    if isinstance(output, Sequence) and not isinstance(output, str):
        return output[index]
    if isinstance(output, torch.Tensor | numbers.Number):
        return output
    raise TypeError(
        "Unhandled type of update_function's output. It should be a mapping, a sequence, a tensor or a number "
        f"to compute output_names from, but given {type(output).__name__}."
    )


def _attach_running_averages(trainer: Engine[Any], output_names: Sequence[str]) -> None:
    from cadence.metrics import RunningAverage

    for index, name in enumerate(output_names):
        average = RunningAverage(output_transform=functools.partial(_output_part, index=index, name=name))
        average.attach(trainer, name, usage="running_batch_wise")


def _train_sampler_handler(trainer: Engine[Any], train_sampler: Any) -> None:
    """Call ``set_epoch`` each epoch: required of the sampler with several processes, optional with one."""
    has_set_epoch = callable(getattr(train_sampler, "set_epoch", None))
    if get_world_size() > 1:
        if not has_set_epoch:
            raise TypeError(
                "Train sampler should be torch DistributedSampler and have `set_epoch` method, "
                f"got {type(train_sampler).__name__}."
            )
    elif isinstance(train_sampler, DistributedSampler):
        warnings.warn(
            "Argument train_sampler is a distributed sampler, but either there is no distributed setting or world "
            "size is < 2. Train sampler argument will be ignored.",
            UserWarning,
            stacklevel=3,
        )
        return
    if has_set_epoch:
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: train_sampler.set_epoch(engine.state.epoch - 1))


def _gpu_info() -> GpuInfo:
    from cadence.metrics.gpu_info import GpuInfo

    return GpuInfo()


def _attach_progress_bars(trainer: Engine[Any], on_iterations: bool, log_every_iters: int) -> ProgressBar | None:
    from cadence.handlers.progress_bar import ProgressBar

    if not on_iterations:
        return None
    bar = ProgressBar(persist=False)
    bar.attach(trainer, metric_names="all", event_name=Events.ITERATION_COMPLETED(every=log_every_iters))
    return bar


def empty_cuda_cache(engine: Engine[Any] | None = None) -> None:
    """Release the CUDA memory that PyTorch caches but no tensor uses, after collecting garbage.

    Example:
        >>> empty_cuda_cache()
    """
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def setup_common_training_handlers(
    trainer: Engine[Any],
    train_sampler: Any = None,
    to_save: Mapping[str, Any] | None = None,
    save_every_iters: int = 1000,
    output_path: str | Path | None = None,
    lr_scheduler: Any = None,
    with_gpu_stats: bool = False,
    output_names: Sequence[str] | None = None,
    with_pbars: bool = True,
    with_pbar_on_iters: bool = True,
    log_every_iters: int = 100,
    stop_on_nan: bool = True,
    clear_cuda_cache: bool = True,
    save_handler: SaveHandler | None = None,
    *,
    evaluator: Engine[Any] | None = None,
    metric_name: str | None = None,
    patience: int | None = None,
    score_sign: float = 1.0,
    **kwargs: Any,
) -> CommonHandlers:
    """Attach the usual training handlers to ``trainer`` in one call and return them.

    In order: ``train_sampler.set_epoch`` at each epoch (a ``DistributedSampler`` with several
    processes; in one process a ``DistributedSampler`` is ignored with a warning), NaN check
    (``stop_on_nan``), the learning-rate schedule (a torch scheduler steps after each iteration, a
    cadence ``ParamScheduler`` runs before each), the CUDA cache cleared after each epoch, a
    :class:`Checkpoint` of ``to_save`` every ``save_every_iters`` iterations (``filename_prefix="training"``,
    in ``output_path`` or through ``save_handler``; extra ``kwargs`` go to it), running averages of
    ``output_names`` (keys of a dict output, positions of a list output, or the output itself), GPU memory
    and utilization every ``log_every_iters`` iterations (``with_gpu_stats``, see :class:`~cadence.metrics.GpuInfo`),
    progress bars on rank 0 (per ``log_every_iters`` iterations and per epoch), and early stopping when
    ``evaluator``, ``metric_name`` and ``patience`` are given (the score is
    ``score_sign * evaluator.state.metrics[metric_name]``).

    Example:
        >>> import tempfile
        >>> model = nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> trainer = Engine(lambda engine, batch: 0.5)
        >>> handlers = setup_common_training_handlers(
        ...     trainer, to_save={"model": model, "optimizer": optimizer}, save_every_iters=2,
        ...     output_path=tempfile.mkdtemp(), with_pbars=False)
        >>> _ = trainer.run([0, 0, 0])
        >>> handlers.checkpoint.last_checkpoint.name
        'training_checkpoint_2.pt'
    """
    if not isinstance(trainer, Engine):
        raise TypeError(f"trainer must be a cadence Engine, got {type(trainer).__name__}.")
    for name, value in (("save_every_iters", save_every_iters), ("log_every_iters", log_every_iters)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if output_path is not None and save_handler is not None:
        raise ValueError(
            "Arguments output_path and save_handler are mutually exclusive. Please, define only one of them."
        )
    gpu_info = _gpu_info() if with_gpu_stats else None  # before anything is attached: pynvml and a GPU are needed
    early_args = (evaluator, metric_name, patience)
    if any(a is not None for a in early_args) and not all(a is not None for a in early_args):
        raise ValueError("Early stopping needs all of evaluator, metric_name and patience (or none of them).")
    result = CommonHandlers()
    if train_sampler is not None:
        _train_sampler_handler(trainer, train_sampler)
    if stop_on_nan:
        result.terminate_on_nan = TerminateOnNan()
        trainer.add_event_handler(Events.ITERATION_COMPLETED, result.terminate_on_nan)
    if lr_scheduler is not None:
        result.lr_scheduler = _attach_lr_scheduler(trainer, lr_scheduler)
    if clear_cuda_cache and torch.cuda.is_available():
        trainer.add_event_handler(Events.EPOCH_COMPLETED, empty_cuda_cache)
    if to_save is not None:
        result.checkpoint = Checkpoint(
            to_save, _checkpoint_store(output_path, save_handler), filename_prefix="training", **kwargs
        )
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=save_every_iters), result.checkpoint)
    if gpu_info is not None:
        result.gpu_info = gpu_info
        gpu_info.attach(trainer, name="gpu", event_name=Events.ITERATION_COMPLETED(every=log_every_iters))
    if output_names is not None:
        _attach_running_averages(trainer, output_names)
    if with_pbars and get_rank() == 0:
        result.progress_bar = _attach_progress_bars(trainer, with_pbar_on_iters, log_every_iters)
    if evaluator is not None and metric_name is not None and patience is not None:
        result.early_stopping = add_early_stopping_by_val_score(
            patience, evaluator, trainer, metric_name, score_sign=score_sign
        )
    return result


setup_common_distrib_training_handlers = setup_common_training_handlers
get_default_score_fn = Checkpoint.get_default_score_fn


@deprecated("0.4.0", "0.6.0", ("Use setup_tb_logging (or another setup_*_logging) instead.",), raise_exception=True)
def setup_any_logging(
    logger: Any,
    logger_module: Any,
    trainer: Engine[Any],
    optimizers: Any,
    evaluators: Any,
    log_every_iters: int,
) -> None:
    """Ignite's removed generic logging setup: calling it raises ``DeprecationWarning``; use
    :func:`cadence.handlers.logger_utils.setup_tb_logging` instead.

    Example:
        >>> setup_any_logging(None, None, None, None, None, 1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        DeprecationWarning: This function has been deprecated since version 0.4.0 ...

    """  # the blank line above ends the example before the notice that @deprecated appends


def add_early_stopping_by_val_score(
    patience: int, evaluator: Engine[Any], trainer: Engine[Any], metric_name: str, score_sign: float = 1.0
) -> EarlyStopping:
    """Stop ``trainer`` when ``score_sign * evaluator.state.metrics[metric_name]`` has not improved for
    ``patience`` evaluations; the handler runs on the evaluator's ``COMPLETED`` and is returned.

    Example:
        >>> trainer, evaluator = Engine(lambda e, b: None), Engine(lambda e, b: None)
        >>> _ = evaluator.on(Events.COMPLETED)(lambda e: e.state.metrics.update(acc=0.5))
        >>> _ = add_early_stopping_by_val_score(2, evaluator, trainer, "acc")
        >>> _ = trainer.on(Events.EPOCH_COMPLETED)(lambda: evaluator.run([0]))
        >>> trainer.run([0], max_epochs=10).epoch
        3
    """
    stopper = EarlyStopping(patience, Checkpoint.get_default_score_fn(metric_name, score_sign), trainer)
    evaluator.add_event_handler(Events.COMPLETED, stopper)
    return stopper


def gen_save_best_models_by_val_score(
    save_handler: str | Path | SaveHandler,
    evaluator: Engine[Any],
    models: nn.Module | Mapping[str, nn.Module],
    metric_name: str,
    n_saved: int = 3,
    trainer: Engine[Any] | None = None,
    tag: str = "val",
    score_sign: float = 1.0,
    **kwargs: Any,
) -> Checkpoint:
    """Keep the ``n_saved`` best ``models`` by ``score_sign * evaluator.state.metrics[metric_name]``;
    the checkpoint runs on the evaluator's ``COMPLETED``, named by the trainer's epoch if given.

    Example:
        >>> import tempfile
        >>> evaluator = Engine(lambda e, b: None)
        >>> _ = evaluator.on(Events.COMPLETED)(lambda e: e.state.metrics.update(acc=0.75))
        >>> best = gen_save_best_models_by_val_score(tempfile.mkdtemp(), evaluator, nn.Linear(2, 1), "acc")
        >>> _ = evaluator.run([0])
        >>> best.last_checkpoint.name
        'best_model_val_acc=0.7500.pt'
    """
    to_save = {"model": models} if isinstance(models, nn.Module) else dict(models)
    checkpoint = Checkpoint(
        to_save,
        save_handler,
        filename_prefix="best",
        n_saved=n_saved,
        global_step_transform=global_step_from_engine(trainer) if trainer is not None else None,
        score_name=f"{tag}_{metric_name.lower()}",
        score_function=Checkpoint.get_default_score_fn(metric_name, score_sign),
        **kwargs,
    )
    evaluator.add_event_handler(Events.COMPLETED, checkpoint)
    return checkpoint


def save_best_model_by_val_score(
    output_path: str | Path,
    evaluator: Engine[Any],
    model: nn.Module,
    metric_name: str,
    n_saved: int = 3,
    trainer: Engine[Any] | None = None,
    tag: str = "val",
    score_sign: float = 1.0,
    **kwargs: Any,
) -> Checkpoint:
    """:func:`gen_save_best_models_by_val_score` for one model, written into the folder ``output_path``
    (which may already hold other files).

    Example:
        >>> import tempfile
        >>> evaluator = Engine(lambda e, b: None)
        >>> _ = evaluator.on(Events.COMPLETED)(lambda e: e.state.metrics.update(acc=0.5))
        >>> best = save_best_model_by_val_score(tempfile.mkdtemp(), evaluator, nn.Linear(2, 1), "acc")
        >>> _ = evaluator.run([0])
        >>> best.last_checkpoint.name
        'best_model_val_acc=0.5000.pt'
    """
    return gen_save_best_models_by_val_score(
        DiskSaver(output_path, require_empty=False),
        evaluator,
        model,
        metric_name,
        n_saved=n_saved,
        trainer=trainer,
        tag=tag,
        score_sign=score_sign,
        **kwargs,
    )
