"""What each piece of bookkeeping in cadence's per-iteration loop costs, next to the least loop an engine can run.

The engine's loop (``Engine._run_iterations``) does, per iteration and with no handler attached, what Ignite's
semantics ask: keep the batch on the state, drop the previous output before the step, count the iteration in
the run and in the epoch, check for nobody listening to four events, check for a pending request
(``terminate()`` and the like), check the run's and the epoch's limits, drop the batch before the next fetch,
and notice a swapped data source. This script builds a replica of that loop with the same statements (so the
same bytecode), times it, then times it again with each piece left out in turn, side by side with the bare
loop ``for batch in data: state.iteration += 1; state.output = step(engine, batch)``. A piece's cost is the
time it saves when left out: the profile behind the overhead goal of ``benchmarks/overhead.py``.

Run: ``.venv/bin/python benchmarks/loop_anatomy.py [--iterations N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from cadence.engine.state import State

#: The loop body in the engine's order: (piece, line); a piece's lines are left out together, None is kept.
BODY: list[tuple[str | None, str]] = [
    ("keep the batch on the state", "state.batch = batch"),
    ("drop the previous output", "state.output = None"),
    ("GET_BATCH_COMPLETED listened?", "if get_completed: pass"),
    (None, "state.iteration += 1"),
    ("count the epoch's iteration", "done += 1"),
    ("count the epoch's iteration", "owner.epoch_iteration = done"),
    (None, "try:"),
    ("ITERATION_STARTED listened?", "    if started: pass"),
    (None, "    state.output = process(owner, batch)"),
    (None, "except ValueError:"),
    (None, "    raise"),
    ("a pending request?", "control = owner.control"),
    ("a pending request?", "if control and control & 32: pass"),
    ("ITERATION_COMPLETED listened?", "if completed: pass"),
    ("a request from a handler?", "if control: pass"),
    ("the run's limit (max_iters)", "if state.iteration == last: return"),
    ("the epoch's end", "if done == epoch_end: return"),
    ("drop the batch before the next fetch", "state.batch = batch = None"),
    ("GET_BATCH_STARTED listened?", "if get_started: pass"),
    ("a swapped data source?", "if source is not data_iter: return"),
]
PIECES = list(dict.fromkeys(piece for piece, _ in BODY if piece is not None))


def step(engine: Any, batch: int) -> int:
    return batch


class Owner:
    """Stands for the engine: the attributes the loop reads and writes on it (instance attributes, as the
    engine's, which CPython reads and writes faster than class attributes)."""

    def __init__(self) -> None:
        self.control = 0
        self.epoch_iteration = 0


def build(left_out: str | None) -> Callable[[list[int]], None]:
    """The replica loop with every piece but ``left_out``."""
    source = [
        "def loop(data):",
        "    state, owner, process, done, control = State(), Owner(), step, 0, 0",
        "    epoch_end, last, get_started, get_completed, started, completed = len(data), -1, False, False, False, ()",
        "    source = data_iter = iter(data)",
        "    for batch in data_iter:",
        *("        " + line for piece, line in BODY if piece is None or piece != left_out),
    ]
    namespace: dict[str, Any] = {"State": State, "Owner": Owner, "step": step}
    exec("\n".join(source), namespace)
    loop: Callable[[list[int]], None] = namespace["loop"]
    return loop


def bare(data: list[int]) -> None:
    state = State()
    for batch in data:
        state.iteration += 1
        state.output = step(state, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    data = list(range(args.iterations))
    loops: dict[str, Callable[[list[int]], None]] = {"bare loop": bare, "replica (all pieces)": build(None)}
    loops.update({name: build(name) for name in PIECES})
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(args.repeats):  # interleaved: every loop once per round, the best round kept
        for name, loop in loops.items():
            started = time.perf_counter()
            loop(data)
            best[name] = min(best[name], time.perf_counter() - started)
    ns = {name: t / args.iterations * 1e9 for name, t in best.items()}
    full = ns["replica (all pieces)"]
    print(f"{args.iterations} iterations, best of {args.repeats}; ns per iteration\n")
    print(f"bare loop: {ns['bare loop']:.1f} ns; replica of cadence's loop: {full:.1f} ns", end=" ")
    print(f"({full / ns['bare loop']:.2f}x)\n")
    print("| piece of the loop | ns it costs (replica without it) |")
    print("|---|---|")
    for name in PIECES:
        print(f"| {name} | {full - ns[name]:.1f} ({ns[name]:.1f}) |")


if __name__ == "__main__":
    main()
