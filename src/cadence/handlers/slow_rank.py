"""Find the rank that holds a distributed run back: :class:`SlowRankDetector`."""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Mapping
from typing import Any

import torch

from cadence.distributed import ReduceOp, all_gather, all_reduce, device, get_rank, get_world_size, hostname
from cadence.engine import Engine, Events
from cadence.engine.events import RemovableEventHandle

__all__ = ["SlowRankDetector"]

_PREFIX = "slow_rank/"


class SlowRankDetector:
    """Every ``every`` iterations, compare the ranks' step times over those iterations and warn when a rank is
    slower than ``threshold`` times the median of them, naming the rank, its host and how far behind it is.

    Each rank times its window with ``time.perf_counter`` at the window's two ends (on a CUDA device after
    waiting for its queued work there, and at no other moment); the ranks then share their times in one small
    collective (a float per rank). The wait for the slowest rank in that collective is not counted: the next
    window starts once it is over. The median is the lower one, so that of two ranks the slow one is compared
    with the other. A rank that stays slow is named once (rank 0 logs a warning); it is named again only after
    a window in which it was not slow (the end of that episode is logged too). The slowest rank is also
    published in ``engine.state.metrics``: ``slow_rank/slowest_rank`` and ``slow_rank/ratio`` (its step time
    over the median; NaN until the first window ends), and :attr:`step_times` holds the last window's seconds
    per iteration of each rank. The ranks flagged now are saved by :meth:`state_dict`, so a resumed run does
    not name them again.

    What it can see depends on where the ranks wait for each other: a rank that is slower between two
    collectives is ahead of nobody after them. So it finds a rank that is slower between the collectives it
    takes part in: a slower data loader, a busier host, a rank doing extra work (rank 0's logging or checkpoint
    writes). Ranks that meet in a collective at every step (DDP's gradient all-reduce, ``TerminateOnNan``, a
    metric that reduces at every iteration) wait there for the slowest, so their step times are equal and it
    sees none of them as slow. Attach it before the handlers that take a collective at the same iterations
    (:class:`~cadence.handlers.throughput.Throughput`): otherwise the fast ranks wait in theirs before this
    one reads its clock. The first window of a run also counts its start-up (data loader workers, compilation).

    Args:
        every: iterations per window.
        threshold: a rank is slow when its step time is more than this many times the ranks' (lower) median.
        device: where the step computes (default: :func:`cadence.distributed.device`).

    Example:
        >>> trainer = Engine(lambda engine, batch: None)
        >>> detector = SlowRankDetector(every=5)
        >>> detector.attach(trainer)
        >>> metrics = trainer.run(range(10)).metrics
        >>> metrics["slow_rank/slowest_rank"], metrics["slow_rank/ratio"], len(detector.step_times)
        (0, 1.0, 1)
    """

    def __init__(self, every: int = 100, *, threshold: float = 1.25, device: torch.device | str | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every should be a positive number of iterations, got {every!r}.")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not threshold > 1:
            raise ValueError(
                f"threshold should be a ratio to the median step time above 1 (e.g. 1.25), got {threshold!r}."
            )
        self.every = every
        self.threshold = float(threshold)
        #: The last window's seconds per iteration of each rank (empty before the first window ends).
        self.step_times: list[float] = []
        self._flagged: set[int] = set()
        self._hosts: list[str] | None = None
        self._device = None if device is None else torch.device(device)
        self._cuda: torch.device | None = None
        self._handles: list[RemovableEventHandle] = []
        self._restart(0)
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    def attach(self, engine: Engine[Any]) -> None:
        """Time ``engine``'s iterations (attach it on every rank: each window's collective needs them all)."""
        if not isinstance(engine, Engine):
            raise TypeError(f"SlowRankDetector.attach needs an Engine, got {type(engine).__name__}.")
        if self._handles:
            raise RuntimeError("This SlowRankDetector is attached already; make one per engine.")
        self._handles = [
            engine.add_event_handler(Events.STARTED, self._start),
            engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.every), self._check),
        ]

    def detach(self) -> None:
        """Stop timing: remove the event handlers.

        Example:
            >>> engine = Engine(lambda engine, batch: None)
            >>> detector = SlowRankDetector(every=1)
            >>> detector.attach(engine)
            >>> detector.detach()
            >>> _ = engine.run([0])
            >>> detector.step_times
            []
        """
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def state_dict(self) -> dict[str, Any]:
        """The ranks flagged as slow now: ``{"slow_ranks": [...]}``.

        Example:
            >>> SlowRankDetector().state_dict()
            {'slow_ranks': []}
        """
        return {"slow_ranks": sorted(self._flagged)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the ranks flagged as slow (a rank that is no longer in the job is forgotten at the next window).

        Example:
            >>> detector = SlowRankDetector()
            >>> detector.load_state_dict({"slow_ranks": [3]})
            >>> detector.state_dict()
            {'slow_ranks': [3]}
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"slow_ranks"}:
            raise ValueError(f"SlowRankDetector state_dict must have the key 'slow_ranks' only, got {state_dict!r}.")
        ranks = state_dict["slow_ranks"]
        if not isinstance(ranks, list | tuple) or not all(
            isinstance(rank, int) and not isinstance(rank, bool) and rank >= 0 for rank in ranks
        ):
            raise ValueError(
                f"SlowRankDetector state_dict: slow_ranks must be a list of ranks (ints >= 0), got {ranks!r}."
            )
        self._flagged = set(ranks)

    def _start(self, engine: Engine[Any]) -> None:
        where = self._device if self._device is not None else device()
        self._cuda = where if where.type == "cuda" else None
        self._hosts = None  # the job may have changed since the last run (an elastic restart)
        for name in ("slowest_rank", "ratio"):
            engine.state.metrics.setdefault(f"{_PREFIX}{name}", math.nan)
        if self._cuda is not None:
            torch.cuda.synchronize(self._cuda)
        self._restart(engine.state.iteration)

    def _restart(self, iteration: int) -> None:
        self._first_iteration = iteration
        self._started_at = time.perf_counter()

    def _check(self, engine: Engine[Any]) -> None:
        if self._cuda is not None:
            torch.cuda.synchronize(self._cuda)
        seconds = time.perf_counter() - self._started_at
        mine = seconds / max(engine.state.iteration - self._first_iteration, 1)
        world_size, rank = get_world_size(), get_rank()
        slots = torch.zeros(world_size, dtype=torch.float64)
        slots[rank] = mine
        # x + 0.0 is exact: every rank gets the very same numbers, hence takes the same decisions below.
        self.step_times = all_reduce(slots, ReduceOp.SUM).tolist()
        window = f"over iterations {self._first_iteration + 1}-{engine.state.iteration}"
        self._restart(engine.state.iteration)
        self._judge(engine, window)

    def _judge(self, engine: Engine[Any], window: str) -> None:
        times = self.step_times
        median = statistics.median_low(times)  # of two ranks, the faster: the slow one is compared with it
        ratios = [time_ / median if median > 0 else 1.0 for time_ in times]
        slowest = max(range(len(ratios)), key=ratios.__getitem__)
        engine.state.metrics[f"{_PREFIX}slowest_rank"] = slowest
        engine.state.metrics[f"{_PREFIX}ratio"] = ratios[slowest]
        slow = {rank for rank, ratio in enumerate(ratios) if ratio > self.threshold}
        started, ended = slow - self._flagged, {r for r in self._flagged - slow if r < len(times)}
        self._flagged = slow
        if started and self._hosts is None:
            self._hosts = all_gather(hostname())  # every rank is here: they all saw the same times
        if get_rank() != 0:
            return
        for rank in sorted(started, key=ratios.__getitem__, reverse=True):
            assert self._hosts is not None
            self.logger.warning(
                "SlowRankDetector: rank %d (host %s) is slow: %.2fx the median step time %s (%.4g s vs %.4g s; "
                "threshold %.2fx).",
                rank,
                self._hosts[rank],
                ratios[rank],
                window,
                times[rank],
                median,
                self.threshold,
            )
        for rank in sorted(ended):
            self.logger.info(
                "SlowRankDetector: rank %d is no longer slow (%.2fx the median %s).", rank, ratios[rank], window
            )
