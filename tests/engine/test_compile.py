"""A compiled model (``torch.compile(model)``) trains and evaluates with the supervised factories as the eager one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cadence.engine import create_supervised_evaluator, create_supervised_trainer
from cadence.metrics import Loss, MeanSquaredError

Backend = Callable[[torch.fx.GraphModule, list[Any]], Any]


def counting_inductor(graphs: list[torch.fx.GraphModule]) -> Backend:
    """torch.compile's default backend (inductor), recording each graph that dynamo captured."""

    def backend(graph: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        graphs.append(graph)
        return torch._inductor.compile(graph, example_inputs)

    return backend


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


DATA = [(torch.randn(8, 3, generator=torch.Generator().manual_seed(i)), torch.ones(8, 1) * i) for i in range(4)]


def test_a_compiled_model_trains_and_evaluates_as_the_eager_one() -> None:
    eager, plain = model(), model()
    graphs: list[torch.fx.GraphModule] = []
    compiled: nn.Module = torch.compile(plain, backend=counting_inductor(graphs))  # type: ignore[assignment]
    results = []
    for network in (eager, compiled):
        optimizer = torch.optim.SGD(network.parameters(), lr=0.05)
        trainer = create_supervised_trainer(network, optimizer, nn.MSELoss())
        trainer.run(DATA, max_epochs=2)
        metrics = {"mse": MeanSquaredError(), "loss": Loss(nn.MSELoss())}
        evaluator = create_supervised_evaluator(network, metrics=metrics)
        results.append((trainer.state.output, evaluator.run(DATA).metrics))
    assert graphs, "dynamo captured no graph: the model ran eagerly"
    for name, parameter in eager.named_parameters():
        assert torch.allclose(plain.get_parameter(name), parameter, atol=1e-6), name
    (eager_loss, eager_metrics), (compiled_loss, compiled_metrics) = results
    assert abs(compiled_loss - eager_loss) < 1e-5
    for name, value in eager_metrics.items():
        assert abs(compiled_metrics[name] - value) < 1e-5, name
