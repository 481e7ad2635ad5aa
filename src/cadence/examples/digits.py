"""Train a small network on scikit-learn's bundled digits (no download) with a plain cadence Engine.

Run with ``make demo`` or ``python -m cadence.examples.digits --epochs 10``.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn

from cadence import Engine, Events

Batch = tuple[torch.Tensor, torch.Tensor]


def load_digits_tensors(seed: int) -> tuple[Batch, Batch]:
    """Return ``(train, validation)`` tensors: 8x8 digit images flattened to 64 features in [0, 1]."""
    from sklearn.datasets import load_digits

    features, targets = load_digits(return_X_y=True)
    x = torch.tensor(features, dtype=torch.float32) / 16.0
    y = torch.tensor(targets, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    split = int(0.8 * len(x))
    train, val = order[:split], order[split:]
    return (x[train], y[train]), (x[val], y[val])


def batches(data: Batch, batch_size: int, *, shuffle: bool, seed: int = 0) -> list[Batch]:
    x, y = data
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(len(x))
    return [(x[idx], y[idx]) for idx in torch.split(order, batch_size)]


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train_data, val_data = load_digits_tensors(args.seed)
    train_batches = batches(train_data, args.batch_size, shuffle=True, seed=args.seed)
    val_batches = batches(val_data, 256, shuffle=False)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(engine: Engine[float], batch: Batch) -> float:
        model.train()
        x, y = batch
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    def eval_step(engine: Engine[tuple[int, int]], batch: Batch) -> tuple[int, int]:
        model.eval()
        x, y = batch
        with torch.inference_mode():
            correct = int((model(x).argmax(dim=1) == y).sum())
        engine.state.correct += correct
        engine.state.seen += len(y)
        return correct, len(y)

    trainer = Engine(train_step)
    evaluator = Engine(eval_step)
    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}

    @evaluator.on(Events.STARTED)
    def reset_counts(engine: Engine[Any]) -> None:
        engine.state.correct = engine.state.seen = 0

    @trainer.on(Events.EPOCH_STARTED)
    def reset_loss(engine: Engine[float]) -> None:
        engine.state.loss_sum = 0.0

    @trainer.on(Events.ITERATION_COMPLETED)
    def accumulate_loss(engine: Engine[float]) -> None:
        engine.state.loss_sum += engine.state.output

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine: Engine[float]) -> None:
        state = evaluator.run(val_batches)
        accuracy = state.correct / state.seen
        loss = engine.state.loss_sum / engine.state.epoch_length
        history["loss"].append(loss)
        history["val_accuracy"].append(accuracy)
        print(f"epoch {engine.state.epoch:2d}  train loss {loss:.4f}  val accuracy {accuracy:.2%}")

    trainer.run(train_batches, max_epochs=args.epochs)
    return history


if __name__ == "__main__":
    main()
