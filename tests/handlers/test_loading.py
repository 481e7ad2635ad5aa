"""Loading checkpoints: every check before anything changes, and clear errors for foreign or broken files."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cadence import Engine
from cadence.handlers.checkpoint import Checkpoint, CheckpointMismatchError

load_objects = Checkpoint.load_objects


def _trained_adam(model: nn.Linear) -> torch.optim.Optimizer:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(3, model.in_features)).sum().backward()
    optimizer.step()
    return optimizer


def test_optimizer_state_for_other_shapes_is_refused_before_anything_changes(tmp_path: Path) -> None:
    source = nn.Linear(3, 2)
    torch.save({"model": source.state_dict(), "optimizer": _trained_adam(source).state_dict()}, tmp_path / "c.pt")
    model, other = nn.Linear(3, 2), nn.Linear(4, 2)  # the model fits; the optimizer serves another one
    optimizer = _trained_adam(other)
    model_before = [p.detach().clone() for p in model.parameters()]
    exp_avg_before = optimizer.state[other.weight]["exp_avg"].clone()
    with pytest.raises(ValueError, match=r"'optimizer' parameter group 0, parameter 0.*\(2, 3\).*\(2, 4\)") as info:
        Checkpoint.load_objects({"model": model, "optimizer": optimizer}, tmp_path / "c.pt")
    assert "c.pt" in str(info.value)
    assert all(torch.equal(a, b) for a, b in zip(model_before, model.parameters(), strict=True))
    assert torch.equal(optimizer.state[other.weight]["exp_avg"], exp_avg_before)


@pytest.mark.parametrize(
    "make",
    [
        lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        lambda params: torch.optim.Adam(params, lr=0.1, amsgrad=True),
        lambda params: torch.optim.RMSprop(params, lr=0.1, momentum=0.9, centered=True),
        lambda params: torch.optim.Adagrad(params, lr=0.1),
    ],
)
def test_optimizer_states_of_the_same_shapes_load(make: Callable[[Any], torch.optim.Optimizer]) -> None:
    def trained() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = nn.Linear(3, 2)
        optimizer = make(model.parameters())
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        return model, optimizer

    _, source = trained()
    _, target = trained()
    Checkpoint.load_objects({"optimizer": target}, {"optimizer": source.state_dict()})


def test_optimizer_states_in_a_second_group_are_checked() -> None:
    def trained(width: int) -> torch.optim.Optimizer:
        body, head = nn.Linear(2, 2), nn.Linear(2, width)
        optimizer = torch.optim.SGD([{"params": body.parameters()}, {"params": head.parameters()}], lr=1, momentum=0.5)
        head(body(torch.ones(1, 2))).sum().backward()
        optimizer.step()
        return optimizer

    with pytest.raises(ValueError, match=r"group 1, parameter 0: .*momentum_buffer.*\(3, 2\).*\(5, 2\)"):
        Checkpoint.load_objects({"optimizer": trained(5)}, {"optimizer": trained(3).state_dict()})


def test_random_bytes_are_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model_10.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match=r"model_10\.pt.*not a checkpoint file.*corrupted") as info:
        Checkpoint.load_objects({"model": nn.Linear(2, 1)}, path)
    assert "weights_only" not in str(info.value)


def test_an_empty_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"m\.pt.*empty"):
        Checkpoint.read_checkpoint(tmp_path / "m.pt")


class Custom:
    pass


def test_pickled_classes_advise_weights_only_false(tmp_path: Path) -> None:
    torch.save({"model": Custom()}, tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"m\.pt.*weights_only=False"):
        Checkpoint.read_checkpoint(tmp_path / "m.pt")


class _LoadOnly:
    """An object of a client library with ``load_state_dict`` only (Ignite needs no more)."""

    def __init__(self, fail: bool = False) -> None:
        self.loaded: Any = None
        self.fail = fail

    def load_state_dict(self, state: Any) -> None:
        if self.fail:
            raise ValueError("refused")
        self.loaded = state


def test_objects_with_only_load_state_dict_load() -> None:
    model, target = nn.Linear(2, 1), _LoadOnly()
    state = {"model": nn.Linear(2, 1).state_dict(), "extra": {"steps": 3}}
    load_objects({"model": model, "extra": target}, state)
    assert target.loaded == {"steps": 3}
    assert torch.equal(model.weight, state["model"]["weight"])


def test_a_failing_load_only_object_rolls_back_those_that_can_be_and_names_itself() -> None:
    engine = Engine(lambda e, b: None)
    engine.run([0, 1], max_epochs=2)
    before = engine.state_dict()
    other = Engine(lambda e, b: None)
    other.run([0, 1], max_epochs=1)
    state = {"trainer": other.state_dict(), "extra": {"steps": 3}}
    with pytest.raises(CheckpointMismatchError, match=r"'extra'.*refused"):
        load_objects({"trainer": engine, "extra": _LoadOnly(fail=True)}, state)
    assert engine.state_dict() == before  # loaded first (it can be restored), then restored
