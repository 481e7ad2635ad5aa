"""benchmarks/chaos.py reads the demo's metrics.csv from outside as the demo writes it, also across resumes.

(The benchmark itself starts torchrun jobs for minutes and is never run, nor asserted on, by the test suite.)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cadence.loggers import CSVLogger

CHAOS = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_benchmark", CHAOS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it is executed
    spec.loader.exec_module(module)
    return module


def write(logger: CSVLogger, step: int, **values: float) -> None:
    logger.write_scalars(values or {"train/loss": 1.0}, step, "iteration_completed")


def test_rows_are_read_as_they_come_and_replayed_rows_count_once_rewritten(chaos: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    tail = chaos.MetricsTail(path)
    assert tail.new_steps() == ([], 0.0)
    logger = CSVLogger(path, one_row_per_step=True)
    for step in (10, 20, 30):
        write(logger, step)
    assert tail.new_steps()[0] == [10, 20, 30]
    write(logger, 34, **{"val/accuracy": 0.5})  # a new column: the file is rewritten
    write(logger, 40)
    write(logger, 40, **{"val/accuracy": 0.6})  # the same step's row again, with one more value
    steps, written = tail.new_steps()
    assert steps == [34, 40] and written == path.stat().st_mtime
    logger.close()  # the run is killed after step 40 and resumes from its checkpoint of step 20
    tail.forget_after(20)
    assert tail.new_steps()[0] == []  # the rows of steps 30 to 40 are the killed run's, still in the file
    resumed = CSVLogger(path, append=True, one_row_per_step=True)
    write(resumed, 30)  # drops the replayed rows (from 30 on) and writes this one
    assert tail.new_steps()[0] == [30]
    write(resumed, 34, **{"val/accuracy": 0.5})
    assert tail.new_steps()[0] == [34]
    resumed.close()
    tail.forget_after(34)  # a resume with nothing to replay: no row was dropped
    again = CSVLogger(path, append=True, one_row_per_step=True)
    write(again, 40)
    assert tail.new_steps()[0] == [40]
    again.close()


@pytest.mark.parametrize(("text", "expected"), [("kill", ["kill"]), ("stop, node", ["stop", "node"])])
def test_fault_kinds(chaos: ModuleType, text: str, expected: list[str]) -> None:
    assert [kind.value for kind in chaos.kinds(text)] == expected


@pytest.mark.parametrize("text", ["rejoin", "kill,oops"])
def test_unknown_fault_kinds_are_refused(chaos: ModuleType, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="kill, term, stop, node"):
        chaos.kinds(text)
