"""Truncated backpropagation through time (Ignite's ``ignite.contrib.engines.tbptt``): a trainer for
recurrent models that cuts each long sequence into chunks of ``tbtt_step`` time steps, with one
optimizer step per chunk and the hidden state carried over (detached) from one chunk to the next."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from cadence.engine import Engine, EventEnum
from cadence.engine.supervised import prepare_batch as _default_prepare_batch
from cadence.utils import apply_to_tensor

__all__ = ["Tbptt_Events", "apply_to_tensor", "create_supervised_tbptt_trainer"]


class Tbptt_Events(EventEnum):  # Ignite's name
    """Events fired around each chunk (time iteration) of a truncated-BPTT trainer's iteration.

    Example:
        >>> Tbptt_Events.TIME_ITERATION_COMPLETED.value
        'time_iteration_completed'
    """

    TIME_ITERATION_STARTED = "time_iteration_started"
    TIME_ITERATION_COMPLETED = "time_iteration_completed"


def _detach_hidden(hidden: Any) -> Any:
    """The hidden state (a tensor or a tuple of them, as an LSTM's) cut from the graph of earlier chunks."""
    return apply_to_tensor(hidden, torch.Tensor.detach)


def create_supervised_tbptt_trainer(
    model: nn.Module,
    optimizer: Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    tbtt_step: int,
    dim: int = 0,
    device: str | torch.device | None = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., tuple[Any, Any]] = _default_prepare_batch,
) -> Engine[float]:
    """A trainer for ``model(x) -> (y_pred, hidden)`` / ``model(x, hidden)`` over batches ``(x, y)`` of sequences.

    Each batch is split along ``dim`` (the time dimension) into chunks of ``tbtt_step``; for each chunk the
    trainer fires ``Tbptt_Events.TIME_ITERATION_STARTED``, runs the model from the previous chunk's
    detached hidden state, steps the optimizer on ``loss_fn(y_pred, y)``, sets ``engine.state.output`` to
    the chunk's loss and fires ``TIME_ITERATION_COMPLETED``. The iteration's output is the mean chunk loss.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <...>
        >>> model = nn.RNN(1, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> trainer = create_supervised_tbptt_trainer(model, optimizer, nn.functional.mse_loss, tbtt_step=2)
        >>> chunks = []
        >>> _ = trainer.on(Tbptt_Events.TIME_ITERATION_COMPLETED)(lambda: chunks.append(1))
        >>> _ = trainer.run([(torch.ones(6, 2, 1), torch.ones(6, 2, 1))])
        >>> len(chunks)
        3
    """
    if isinstance(tbtt_step, bool) or not isinstance(tbtt_step, int) or tbtt_step < 1:
        raise ValueError(f"tbtt_step must be a positive number of time steps, got {tbtt_step!r}.")

    def update(engine: Engine[float], batch: Sequence[torch.Tensor]) -> float:
        x, y = batch
        losses: list[float] = []
        hidden = None
        for chunk in zip(torch.split(x, tbtt_step, dim=dim), torch.split(y, tbtt_step, dim=dim), strict=True):
            x_t, y_t = prepare_batch(chunk, device=device, non_blocking=non_blocking)
            engine.fire_event(Tbptt_Events.TIME_ITERATION_STARTED)
            model.train()
            optimizer.zero_grad()
            if hidden is None:
                y_pred, hidden = model(x_t)
            else:
                y_pred, hidden = model(x_t, _detach_hidden(hidden))
            loss = loss_fn(y_pred, y_t)
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped
            optimizer.step()
            engine.state.output = loss.item()
            losses.append(engine.state.output)
            engine.fire_event(Tbptt_Events.TIME_ITERATION_COMPLETED)
        return sum(losses) / len(losses)

    engine: Engine[float] = Engine(update)
    engine.register_events(*Tbptt_Events)
    return engine
