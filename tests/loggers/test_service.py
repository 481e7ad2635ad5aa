"""What the service loggers share: no client imported by ``import cadence``, a clear error naming what to
install when a client is missing, and the handlers' values as key paths."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

from cadence import Engine
from cadence.handlers import logger_utils
from cadence.loggers._service import KeyedOutputHandler

CLIENTS = {
    "mlflow": ("cadence.handlers.mlflow_logger", "MLflowLogger"),
    "wandb": ("cadence.handlers.wandb_logger", "WandBLogger"),
    "clearml": ("cadence.handlers.clearml_logger", "ClearMLLogger"),
    "neptune": ("cadence.handlers.neptune_logger", "NeptuneLogger"),
    "visdom": ("cadence.handlers.visdom_logger", "VisdomLogger"),
    "polyaxon": ("cadence.handlers.polyaxon_logger", "PolyaxonLogger"),
}


def test_import_cadence_imports_no_client() -> None:
    code = (
        "import sys, cadence, cadence.handlers, cadence.handlers.logger_utils, cadence.contrib.handlers; "
        f"print(sorted(m for m in {sorted(CLIENTS)!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_missing_client_names_what_to_install(client: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, name = CLIENTS[client]
    logger_class = getattr(importlib.import_module(module), name)
    for name in [client, *(name for name in sys.modules if name.startswith(f"{client}."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match=rf"requires .*{client}") as error:
        logger_class()
    assert f"pip install {client}" in str(error.value)
    assert f"pip install -e '.[{client}]'" in str(error.value)


def _engine(**state: object) -> Engine[None]:
    engine: Engine[None] = Engine(lambda e, b: None)
    for key, value in state.items():
        setattr(engine.state, key, value)
    return engine


class _Collect(KeyedOutputHandler):
    def __call__(self, engine: Engine[None], logger: object, event_name: object) -> None:  # pragma: no cover
        raise AssertionError("not called")


def test_values_are_key_paths_of_numbers() -> None:
    engine = _engine(
        metrics={"a": 1, "b": {"c": [2.5, {"d": torch.tensor(3.0)}]}, "v": torch.tensor([0.5, 1.5])},
        output=0.25,
        alpha=torch.tensor(7.0),
    )
    handler = _Collect("tag", metric_names="all", output_transform=lambda out: out, state_attributes=["alpha"])
    assert handler.collect_keyed(engine) == {
        ("tag", "a"): 1,
        ("tag", "b", "c", "0"): 2.5,
        ("tag", "b", "c", "1", "d"): 3.0,
        ("tag", "v", "0"): 0.5,
        ("tag", "v", "1"): 1.5,
        ("tag", "output"): 0.25,
        ("tag", "alpha"): 7.0,
    }


def test_text_is_kept_only_when_asked_and_other_values_warn() -> None:
    engine = _engine(metrics={"note": "text", "image": torch.zeros(2, 2)})
    handler = _Collect("tag", metric_names=["note", "image", "missing"])
    with pytest.warns(UserWarning) as caught:
        assert handler.collect_keyed(engine, keep_text=True) == {("tag", "note"): "text"}
    messages = " ".join(str(w.message) for w in caught)
    assert "can not log metrics value type Tensor" in messages
    assert "'missing' is missing" in messages
    with pytest.warns(UserWarning, match="can not log metrics value type str"):
        assert _Collect("tag", metric_names=["note"]).collect_keyed(engine) == {}


@pytest.mark.parametrize(
    "setup",
    [
        logger_utils.setup_mlflow_logging,
        logger_utils.setup_wandb_logging,
        logger_utils.setup_clearml_logging,
        logger_utils.setup_neptune_logging,
        logger_utils.setup_visdom_logging,
        logger_utils.setup_plx_logging,
    ],
)
def test_setups_check_their_arguments_before_starting_a_run(setup: object, monkeypatch: pytest.MonkeyPatch) -> None:
    for client in CLIENTS:  # no run may start: a client import would fail
        monkeypatch.setitem(sys.modules, client, None)
    with pytest.raises(TypeError, match="Argument optimizers should be"):
        setup(_engine(), optimizers="sgd")  # type: ignore[operator]
    with pytest.raises(TypeError, match="Argument evaluators should be"):
        setup(_engine(), evaluators=[_engine()])  # type: ignore[operator]
