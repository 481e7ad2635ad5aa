"""Stopping decisions are the same on every rank: one rank's NaN, score or clock stops them all."""

from __future__ import annotations

from typing import Any

import pytest

from cadence import Engine, Events
from cadence import distributed as idist
from cadence.handlers import EarlyStopping, TerminateOnNan, TimeLimit


def _decisions(local_rank: int) -> dict[str, Any]:
    rank = idist.get_rank()
    results: dict[str, Any] = {}

    # Only rank 1 produces a NaN, at iteration 3: both ranks must stop there.
    nan_engine = Engine(lambda e, b: float("nan") if (rank == 1 and e.state.iteration == 3) else 1.0)
    nan_engine.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
    results["nan_stop"] = nan_engine.run(range(10)).iteration

    # Each rank's own score differs (rank 1 never improves); rank 0's decision is the one taken.
    trainer = Engine(lambda e, b: None)
    scores = {0: [1, 2, 3, 3, 3, 3], 1: [5, 1, 1, 1, 1, 1]}[rank]
    stopper = EarlyStopping(2, lambda e: scores[e.state.epoch - 1], trainer)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, stopper)
    results["early_stop"] = trainer.run([0], max_epochs=6).epoch

    # Rank 1 is already over its time limit; rank 0 has hours left.
    limited = Engine(lambda e, b: None)
    limited.add_event_handler(Events.ITERATION_COMPLETED, TimeLimit(1e-9 if rank == 1 else 3600.0))
    results["time_stop"] = limited.run(range(10)).iteration
    return results


@pytest.mark.slow
def test_stopping_decisions_agree_across_ranks() -> None:
    with idist.Parallel("gloo", nproc_per_node=2, timeout=60) as parallel:
        results = parallel.run(_decisions)
    assert results[0] == results[1] == {"nan_stop": 3, "early_stop": 5, "time_stop": 1}
