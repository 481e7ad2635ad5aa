"""The per-iteration loop: the order of events, batches and outputs against Ignite 0.5.5 for any data length,
epoch length, limit and set of listened events; data swapped mid-run; and a loop that CPython specializes from
its first epoch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cadence

ignite_engine = pytest.importorskip("ignite.engine")

PER_ITERATION = ("GET_BATCH_STARTED", "GET_BATCH_COMPLETED", "ITERATION_STARTED", "ITERATION_COMPLETED")
OTHERS = ("EPOCH_STARTED", "EPOCH_COMPLETED", "DATALOADER_STOP_ITERATION", "TERMINATE", "COMPLETED")


class Reiterable:
    """Data without a length: an epoch length is learnt from its first exhaustion."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Any:
        return iter(range(100, 100 + self.n))


def trace(module: Any, case: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every event fired, with the counters, batch and output it sees, and the state after the run."""
    seen: list[tuple[Any, ...]] = []

    def step(engine: Any, batch: int) -> int:
        seen.append(("step", engine.state.iteration, batch))
        return batch * 10

    engine = module.Engine(step)
    events = module.Events
    for name in case["listened"]:

        def record(engine: Any, name: str = name) -> None:
            state = engine.state
            seen.append((name, state.epoch, state.iteration, state.batch, state.output))
            if name == "ITERATION_COMPLETED" and state.iteration == case["terminate_at"]:
                engine.terminate_epoch() if case["terminate_epoch"] else engine.terminate()

        engine.add_event_handler(getattr(events, name), record)
    data = Reiterable(case["length"]) if case["unsized"] else list(range(100, 100 + case["length"]))
    limit = {"max_iters": case["max_iters"]} if case["max_iters"] else {"max_epochs": case["max_epochs"]}
    state = engine.run(data, epoch_length=case["epoch_length"], **limit)
    return [*seen, ("end", state.epoch, state.iteration, state.epoch_length, state.batch)]


cases = st.fixed_dictionaries(
    {
        "length": st.integers(1, 5),
        "unsized": st.booleans(),
        "epoch_length": st.one_of(st.none(), st.integers(1, 8)),
        "max_epochs": st.integers(1, 3),
        "max_iters": st.one_of(st.none(), st.integers(1, 12)),
        "listened": st.lists(st.sampled_from(PER_ITERATION + OTHERS), unique=True),
        "terminate_at": st.one_of(st.none(), st.integers(1, 10)),
        "terminate_epoch": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None)
@given(case=cases)
def test_events_batches_and_outputs_are_ignites(case: dict[str, Any]) -> None:
    if case["unsized"] and case["epoch_length"] is None and case["max_iters"]:
        case["max_iters"] = None  # Ignite needs a length or an epoch length to check max_iters against
    assert trace(cadence, case) == trace(ignite_engine, case)


def test_set_data_from_the_process_function_takes_effect_at_the_next_batch() -> None:
    seen: list[int] = []

    def step(engine: cadence.Engine[int], batch: int) -> None:
        seen.append(batch)
        if batch == 2:
            engine.set_data([10, 20, 30, 40, 50])

    cadence.Engine(step).run([1, 2, 3, 4], max_epochs=1)
    assert seen == [1, 2, 10, 20]  # the epoch keeps its length (4)


@pytest.mark.parametrize("module", [cadence, ignite_engine], ids=["cadence", "ignite"])
def test_set_data_from_a_get_batch_started_handler_feeds_that_very_batch(module: Any) -> None:
    seen: list[int] = []
    engine = module.Engine(lambda engine, batch: seen.append(batch))
    engine.add_event_handler(module.Events.GET_BATCH_STARTED(once=3), lambda e: e.set_data([7, 8, 9, 6]))
    engine.run([1, 2, 3, 4, 5], max_epochs=2)
    # the handler runs before the 4th fetch (its counter is the iteration count, 3); the new data is read on
    # from where the first epoch left it, then from its start again
    assert seen == [1, 2, 3, 7, 8, 9, 6, 7, 8, 9]


def test_data_shorter_than_the_epoch_is_read_again_and_a_one_shot_iterator_stops_the_run() -> None:
    seen: list[int] = []
    cadence.Engine(lambda engine, batch: seen.append(batch)).run([1, 2], epoch_length=5, max_epochs=1)
    assert seen == [1, 2, 1, 2, 1]
    engine = cadence.Engine(lambda engine, batch: None)
    with pytest.warns(UserWarning, match="can not provide data anymore"):
        state = engine.run(iter([1, 2]), epoch_length=5, max_epochs=1)
    assert state.iteration == 2


@pytest.mark.skipif(sys.version_info < (3, 11), reason="CPython specializes bytecode from 3.11 on")
def test_the_loop_is_specialized_within_the_first_epoch_of_a_fresh_interpreter() -> None:
    # CPython 3.11 counts calls and unconditional backward jumps before specializing a function's bytecode; the
    # backward jump of a `while <test>:` loop was not counted, and the loop runs once per epoch, so a run of a
    # few long epochs ran its per-iteration code unspecialized (2-3x slower) until the process's 8th epoch.
    code = textwrap.dedent(
        """
        import dis
        import cadence
        from cadence.engine.engine import Engine

        cadence.Engine(lambda engine, batch: batch).run(list(range(1000)), max_epochs=1)
        names = [i.opname for i in dis.get_instructions(Engine._run_iterations, adaptive=True)]
        print(sum(name.endswith("_INSTANCE_VALUE") for name in names))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert int(done.stdout.split()[-1]) >= 4  # state.batch, state.output, state.iteration, engine._epoch_iteration
