"""Every public attribute of Ignite 0.5.5's objects exists on cadence's, once both are built and used alike.

Libraries built on Ignite use more than its ``__all__``: any attribute or method without a leading underscore
on an object Ignite hands them is API to them. Each case (``tests/_parity_cases.py``, with the metrics in
``tests/_parity_metrics.py``) builds one public class in both libraries with the same arguments and uses it as
Ignite's documentation does (attached to an engine that runs a few iterations of a tiny process function);
the tests compare the public names on the two objects (``dir()``, so class attributes and properties count).
A name Ignite has and cadence lacks fails, unless ``DELIBERATE`` gives the reason for the difference, or
``PENDING`` says what is still to be done (those are strict xfails: they fail once done, so that the entry is
removed). A second test compares the values of the simple public attributes (numbers, strings, flags, events)
that both objects have. ``tests/test_ignite_parity_behaviour.py`` checks what the added attributes do.
"""

from __future__ import annotations

import enum
import inspect
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests._parity_cases import CASES, Lib

# Simple values need not agree where they measure time.
TIMING = "a duration measured on the clock"

# ----------------------------------------------------------------------------------------------------------
# What the comparison leaves out, and why.

_SAVE_HISTORY = "an attribute of every scheduler set in __init__ (Ignite makes it a property, so its class has it)"
DELIBERATE: dict[str, dict[str, str]] = {
    "BaseParamScheduler (class)": {"save_history": _SAVE_HISTORY},
    "ParamScheduler (class)": {"save_history": _SAVE_HISTORY},
    "CyclicalScheduler (class)": {"save_history": _SAVE_HISTORY},
    "StateParamScheduler (class)": {"save_history": _SAVE_HISTORY},
    "ReduceLROnPlateauScheduler": {
        "scheduler": "cadence applies PyTorch's ReduceLROnPlateau rule itself (Ignite patches torch's private "
        "_reduce_lr); the rule's state (best, num_bad_epochs, cooldown_counter, factor...) is on the scheduler",
    },
    "Rouge": {
        "internal_metrics": "one metric computes all the variants (one state to save and reduce across processes); "
        "Ignite's Rouge delegates to a RougeN/RougeL per variant",
    },
}

# Missing from cadence, each a strict xfail until it is done (none today).
PENDING: dict[str, dict[str, str]] = {}

# Simple attributes whose values may differ, with the reason.
_NO_OUTPUT = "a MetricsLambda reads no engine output: its value comes from its source metrics"
_TURN = "Ignite never moves ConcatScheduler's own event_index (it stays 0); cadence counts the events, which picks "
_TURN += "the scheduler whose turn it is"
VALUE_DIFFERENCES: dict[str, dict[str, str]] = {
    **{
        name: {"required_output_keys": _NO_OUTPUT}
        for name in ("ClassificationReport", "DiceCoefficient", "Fbeta", "IoU", "mIoU", "MetricsLambda")
    },
    "Frequency": {
        "required_output_keys": "update takes a batch's number of items: a mapping output is refused with a message "
        "instead of being cut to the (y_pred, y) that update cannot take"
    },
    "InceptionScore": {
        "required_output_keys": "update takes the generated images only: a mapping output is refused with a "
        "message instead of being cut to the (y_pred, y) that update cannot take"
    },
    "GpuInfo (class)": {"required_output_keys": "reads no engine output (it reports the GPUs)"},
    "ConcatScheduler": {"event_index": _TURN},
    "create_lr_scheduler_with_warmup": {"event_index": _TURN},
    "DeterministicEngine": {
        "state_dict_user_keys": "rng_states is DeterministicEngine's own entry of state_dict, optional on load "
        "(absent or None replays the epoch from its seed), not a user key that load_state_dict requires"
    },
    "State (DeterministicEngine)": {"seed": "drawn at random when not given"},
    "Timer": {"total": TIMING},
    "HandlersTimeProfiler": {"dataflow_times": TIMING, "processing_times": TIMING},
}


# ----------------------------------------------------------------------------------------------------------
# The tests


def _public(obj: Any) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


_BUILT: dict[str, tuple[Any, Any]] = {}


@pytest.fixture
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """The (Ignite, cadence) instances of a case, built once for all the tests of the case."""
    name = request.param
    if name not in _BUILT:
        folder = tmp_path_factory.mktemp("parity")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _BUILT[name] = (CASES[name](Lib("ignite", folder)), CASES[name](Lib("cadence", folder)))
    yield _BUILT[name]


@pytest.mark.parametrize("built", sorted(CASES), indirect=True)
def test_public_attributes(built: tuple[Any, Any], request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["built"]
    ignite_obj, cadence_obj = built
    excused = DELIBERATE.get(name, {}).keys() | PENDING.get(name, {}).keys()
    missing = _public(ignite_obj) - _public(cadence_obj) - excused
    assert not missing, f"{name}: cadence lacks {sorted(missing)}"
    stale = {attr for attr in excused if attr not in _public(ignite_obj) or attr in _public(cadence_obj)}
    assert not stale - PENDING.get(name, {}).keys(), f"{name}: DELIBERATE entries no longer needed: {sorted(stale)}"


PENDING_PARAMS = [
    pytest.param(name, attr, marks=pytest.mark.xfail(reason=f"pending: {reason}", strict=True), id=f"{name}.{attr}")
    for name, attrs in sorted(PENDING.items())
    for attr, reason in sorted(attrs.items())
]


@pytest.mark.parametrize(("name", "attr"), PENDING_PARAMS)
def test_pending_attribute(name: str, attr: str, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cadence_obj = CASES[name](Lib("cadence", tmp_path))
    assert attr in _public(cadence_obj)


def _simple(value: Any) -> Any:
    """A comparable form of a simple value, or ``NotImplemented`` for anything else."""
    if isinstance(value, enum.Enum) and isinstance(value, str):
        return str(value.value)  # a str-valued enum compares equal to Ignite's string
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return ("enum", value.name)
    if isinstance(value, torch.device):
        return ("device", str(value))
    if isinstance(value, (list, tuple)):
        items = [_simple(item) for item in value]
        return NotImplemented if NotImplemented in items else (type(value).__name__, tuple(items))
    return NotImplemented


def _same(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        # Numbers compare by value: Ignite keeps some counts as floats (Timer.step_count) or arguments as given.
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("built", sorted(CASES), indirect=True)
def test_simple_values(built: tuple[Any, Any], request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["built"]
    ignite_obj, cadence_obj = built
    differ = VALUE_DIFFERENCES.get(name, {})
    wrong = {}
    for attr in sorted(_public(ignite_obj) & _public(cadence_obj) - differ.keys()):
        ignite_value = inspect.getattr_static(ignite_obj, attr, None)
        if callable(ignite_value) or isinstance(ignite_value, (staticmethod, classmethod)):
            continue
        expected = _simple(getattr(ignite_obj, attr))
        if expected is NotImplemented:
            continue
        actual = _simple(getattr(cadence_obj, attr))
        if not _same(expected, actual):
            wrong[attr] = (expected, actual)
    assert not wrong, f"{name}: (Ignite, cadence) values differ: {wrong}"
