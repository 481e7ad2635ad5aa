"""The service loggers cadence does not provide yet: every Ignite name imports, and building one says so."""

from __future__ import annotations

import importlib

import pytest

SERVICES = {
    "mlflow_logger": ["MLflowLogger", "OutputHandler", "OptimizerParamsHandler"],
    "wandb_logger": ["WandBLogger", "OutputHandler", "OptimizerParamsHandler"],
    "polyaxon_logger": ["PolyaxonLogger", "OutputHandler", "OptimizerParamsHandler"],
    "visdom_logger": ["VisdomLogger", "OutputHandler", "OptimizerParamsHandler", "WeightsScalarHandler"],
    "neptune_logger": ["NeptuneLogger", "NeptuneSaver", "OutputHandler", "GradsScalarHandler"],
    "clearml_logger": ["ClearMLLogger", "ClearMLSaver", "WeightsHistHandler", "GradsHistHandler"],
}


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in SERVICES.items() for n in names])
def test_building_raises_a_clear_error(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(f"cadence.handlers.{module}"), name)
    with pytest.raises(NotImplementedError, match=rf"{name} \(.+\) is not yet available in cadence") as error:
        cls("anything", key="value")
    assert "TensorboardLogger, CSVLogger or JSONLinesLogger" in str(error.value)


@pytest.mark.parametrize("module", list(SERVICES))
def test_global_step_from_engine_is_there_too(module: str) -> None:
    from cadence.handlers.utils import global_step_from_engine

    assert importlib.import_module(f"cadence.handlers.{module}").global_step_from_engine is global_step_from_engine
