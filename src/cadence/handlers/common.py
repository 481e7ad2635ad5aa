"""One-call setups of the usual training handlers: NaN check, LR schedule, checkpoints, progress bar,
early stopping and best-model saving.

Progress bars, schedulers and metrics are imported when a function needs them, so importing this
module costs nothing extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cadence.engine import Engine, Events
from cadence.handlers.checkpoint import Checkpoint, SaveHandler, global_step_from_engine
from cadence.handlers.early_stopping import EarlyStopping
from cadence.handlers.savers import DiskSaver
from cadence.handlers.terminate_on_nan import TerminateOnNan

if TYPE_CHECKING:
    from cadence.handlers.param_scheduler import ParamScheduler
    from cadence.handlers.progress_bar import ProgressBar

__all__ = [
    "CommonHandlers",
    "add_early_stopping_by_val_score",
    "gen_save_best_models_by_val_score",
    "save_best_model_by_val_score",
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
    lr_scheduler: ParamScheduler | None = None
    terminate_on_nan: TerminateOnNan | None = None
    early_stopping: EarlyStopping | None = None


def _lr_handler(lr_scheduler: Any) -> ParamScheduler:
    from cadence.handlers.lr_scheduler import LRScheduler
    from cadence.handlers.param_scheduler import ParamScheduler

    if isinstance(lr_scheduler, torch.optim.lr_scheduler.LRScheduler):
        return LRScheduler(lr_scheduler)
    if isinstance(lr_scheduler, ParamScheduler):
        return lr_scheduler
    raise TypeError(
        "lr_scheduler must be a torch.optim.lr_scheduler scheduler or a cadence ParamScheduler, "
        f"got {type(lr_scheduler).__name__}."
    )


def _checkpoint_store(output_path: str | Path | None, save_handler: SaveHandler | None) -> SaveHandler:
    if (output_path is None) == (save_handler is None):
        raise ValueError("to_save needs exactly one of output_path (a folder) and save_handler to write checkpoints.")
    return save_handler if save_handler is not None else DiskSaver(output_path, require_empty=False)  # type: ignore[arg-type]  # output_path is set when save_handler is None


def _attach_running_averages(trainer: Engine[Any], output_names: Sequence[str]) -> None:
    from cadence.metrics import RunningAverage

    for name in output_names:

        def pick(output: Any, key: str = name) -> Any:
            if not isinstance(output, Mapping) or key not in output:
                raise ValueError(
                    f"output_names has {key!r}, but the trainer's output is {output!r}; make the process function "
                    "return a dict with that key (e.g. output_transform=lambda x, y, y_pred, loss: "
                    "{'loss': loss.item()})."
                )
            return output[key]

        RunningAverage(output_transform=pick).attach(trainer, name)


def _iteration_step(engine: Engine[Any], event: object) -> int:
    return engine.state.iteration


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

    In order: ``train_sampler.set_epoch`` at each epoch (a ``DistributedSampler``), NaN check
    (``stop_on_nan``), the learning-rate schedule on ``ITERATION_STARTED`` (a torch scheduler is wrapped
    in :class:`~cadence.handlers.lr_scheduler.LRScheduler`), running averages of ``output_names``, the
    CUDA cache cleared after each epoch, a :class:`Checkpoint` of ``to_save`` every ``save_every_iters``
    iterations and at the end (``filename_prefix="training"``; extra ``kwargs`` go to it), a progress bar
    updated every ``log_every_iters`` iterations, and early stopping when ``evaluator``, ``metric_name``
    and ``patience`` are given (the score is ``score_sign * evaluator.state.metrics[metric_name]``).

    Example:
        >>> import tempfile
        >>> model = nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> trainer = Engine(lambda engine, batch: 0.5)
        >>> handlers = setup_common_training_handlers(
        ...     trainer, to_save={"model": model, "optimizer": optimizer}, save_every_iters=2,
        ...     output_path=tempfile.mkdtemp(), lr_scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1))
        >>> _ = trainer.run([0, 0, 0])
        >>> handlers.checkpoint.last_checkpoint.name
        'training_checkpoint_3.pt'
    """
    if not isinstance(trainer, Engine):
        raise TypeError(f"trainer must be a cadence Engine, got {type(trainer).__name__}.")
    if with_gpu_stats:
        raise ValueError("with_gpu_stats is not supported by cadence (it needs pynvml); pass with_gpu_stats=False.")
    for name, value in (("save_every_iters", save_every_iters), ("log_every_iters", log_every_iters)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    early_args = (evaluator, metric_name, patience)
    if any(a is not None for a in early_args) and not all(a is not None for a in early_args):
        raise ValueError("Early stopping needs all of evaluator, metric_name and patience (or none of them).")
    result = CommonHandlers()
    if train_sampler is not None:
        if not callable(getattr(train_sampler, "set_epoch", None)):
            raise TypeError(f"train_sampler must have set_epoch(epoch), got {type(train_sampler).__name__}.")
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: train_sampler.set_epoch(engine.state.epoch - 1))
    if stop_on_nan:
        result.terminate_on_nan = TerminateOnNan()
        trainer.add_event_handler(Events.ITERATION_COMPLETED, result.terminate_on_nan)
    if lr_scheduler is not None:
        result.lr_scheduler = _lr_handler(lr_scheduler)
        trainer.add_event_handler(Events.ITERATION_STARTED, result.lr_scheduler)
    if output_names:
        _attach_running_averages(trainer, output_names)
    if clear_cuda_cache and torch.cuda.is_available():
        trainer.add_event_handler(Events.EPOCH_COMPLETED, torch.cuda.empty_cache)
    if to_save is not None:
        store = _checkpoint_store(output_path, save_handler)
        # Saved on iteration events and at COMPLETED: number both by iteration so the last one ranks last.
        kwargs.setdefault("global_step_transform", _iteration_step)
        result.checkpoint = Checkpoint(to_save, store, filename_prefix="training", **kwargs)
        trainer.add_event_handler(
            Events.ITERATION_COMPLETED(every=save_every_iters) | Events.COMPLETED, result.checkpoint
        )
    if with_pbars and with_pbar_on_iters:
        from cadence.handlers.progress_bar import ProgressBar

        result.progress_bar = ProgressBar(persist=False)
        result.progress_bar.attach(
            trainer, metric_names="all", event_name=Events.ITERATION_COMPLETED(every=log_every_iters)
        )
    if evaluator is not None and metric_name is not None and patience is not None:
        result.early_stopping = add_early_stopping_by_val_score(
            patience, evaluator, trainer, metric_name, score_sign=score_sign
        )
    return result


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
